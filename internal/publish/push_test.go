package publish_test

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/image/imagetest"
	"github.com/nixify/nixify/internal/publish"
	"github.com/nixify/nixify/internal/registryclient"
)

// faultyRegistry is go-containerregistry's in-process registry behind a handler that injects faults.
// fault returns true when it answered the request itself.
type faultyRegistry struct {
	srv     *httptest.Server
	mu      sync.Mutex
	fault   func(w http.ResponseWriter, r *http.Request) bool
	uploads atomic.Int64 // blob uploads started (POST .../blobs/uploads/)
}

func newRegistry(t *testing.T) *faultyRegistry {
	fr := &faultyRegistry{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	fr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			fr.uploads.Add(1)
		}
		fr.mu.Lock()
		f := fr.fault
		fr.mu.Unlock()
		if f != nil && f(w, r) {
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(fr.srv.Close)
	return fr
}

func (fr *faultyRegistry) setFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	fr.mu.Lock()
	fr.fault = f
	fr.mu.Unlock()
}

func (fr *faultyRegistry) repo() string {
	return strings.TrimPrefix(fr.srv.URL, "http://") + "/owner/nixify"
}

func (fr *faultyRegistry) tags(t *testing.T) []string {
	repo, _ := name.NewRepository(fr.repo())
	tags, err := remote.List(repo)
	if err != nil && !strings.Contains(err.Error(), "NAME_UNKNOWN") {
		t.Fatalf("list tags: %v", err)
	}
	return tags
}

func openImages(t *testing.T) []publish.Image {
	t.Helper()
	dir := t.TempDir()
	cache := image.NewLayerCache(filepath.Join(dir, "cache"))
	var out []publish.Image
	for i, a := range arch.All {
		p := filepath.Join(dir, a.String()+".tar")
		labels := map[string]string{"org.opencontainers.image.source": "https://github.com/nixify/nixify", "org.opencontainers.image.description": "test", "org.opencontainers.image.licenses": "MIT"}
		if _, err := imagetest.WriteFile(p, imagetest.Spec{Arch: a.GOARCH(), Layers: 3, LayerSize: 256 << 10, Seed: uint64(i), Labels: labels}); err != nil {
			t.Fatal(err)
		}
		img, err := imagetest.Open(p, image.WithTempDir(dir), image.WithLayerCache(cache))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(img.Close)
		out = append(out, publish.Image{Arch: a, Image: img.V1})
	}
	return out
}

var rev = &publish.Revision{Branch: "feature/x", Commit: "0123456789abcdef0123456789abcdef01234567", Default: true}

func request(ims []publish.Image) publish.Request {
	return publish.Request{Images: ims, Rev: rev, Built: time.Unix(1700000000, 0)}
}

// push plans and pushes r to repo with a quick retry schedule, tagging latest.
func push(repo string, r publish.Request, progress publish.Progress, opts ...publish.Option) (*publish.Result, error) {
	opts = append([]publish.Option{publish.WithLatest(true), publish.WithSource("https://github.com/nixify/nixify"),
		publish.WithRegistry(registryclient.WithBackoff(remote.Backoff{Duration: 10 * time.Millisecond, Factor: 1, Steps: 4}))}, opts...)
	p, err := publish.New(repo, opts...)
	if err != nil {
		return nil, err
	}
	plan, err := p.Plan(context.Background(), r)
	if err != nil {
		return nil, err
	}
	return p.Push(context.Background(), plan, progress)
}

func TestPushAndRepushUploadsNothing(t *testing.T) {
	fr := newRegistry(t)
	ims := openImages(t)
	var progressCalls atomic.Int64
	res, err := push(fr.repo(), request(ims), func(arch.Arch, int64, int64) { progressCalls.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"feature-x-0123456", "feature-x-0123456-aarch64-static", "feature-x-0123456-x86_64-static", "latest", "latest-aarch64-linux-static", "latest-x86_64-linux-static"}
	if got := strings.Join(fr.tags(t), " "); got != strings.Join(want, " ") {
		t.Errorf("tags %q, want %q", got, want)
	}
	if progressCalls.Load() == 0 {
		t.Error("no progress reported")
	}
	set, err := imagetest.OpenSet(fr.repo() + ":latest")
	if err != nil {
		t.Fatal(err)
	}
	if set.Index == nil || set.Index.Digest != res.Index.Digest || len(set.Images) != 2 {
		t.Fatalf("latest = %+v, want index %s with 2 images", set.Index, res.Index.Digest)
	}
	if set.Index.Annotations["org.opencontainers.image.revision"] != rev.Commit || set.Index.Annotations["org.opencontainers.image.source"] == "" {
		t.Errorf("index annotations %v", set.Index.Annotations)
	}
	for _, im := range set.Images {
		if im.Entry.Platform == nil || im.Arch.GOARCH() != im.Entry.Platform.Architecture || im.Entry.Annotations["org.opencontainers.image.created"] == "" {
			t.Errorf("index entry %+v", im.Entry)
		}
		m, _ := im.V1.Manifest()
		if m.Annotations["org.opencontainers.image.revision"] != rev.Commit {
			t.Errorf("manifest annotations %v", m.Annotations)
		}
	}

	before := fr.uploads.Load()
	res2, err := push(fr.repo(), request(openImages(t)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := fr.uploads.Load() - before; n != 0 {
		t.Errorf("unchanged re-push started %d blob uploads", n)
	}
	if res2.Index.Digest != res.Index.Digest {
		t.Errorf("re-push index %s differs from %s", res2.Index.Digest, res.Index.Digest)
	}
}

func TestPushRefusesArchitectureMismatch(t *testing.T) {
	fr := newRegistry(t)
	ims := openImages(t)
	ims[0].Arch, ims[1].Arch = "aarch64", "x86_64"
	_, err := push(fr.repo(), request(ims), nil)
	if err == nil || !strings.Contains(err.Error(), "refusing to push the aarch64 image: its config says linux/amd64") {
		t.Fatalf("err = %v", err)
	}
	if fr.uploads.Load() != 0 || len(fr.tags(t)) != 0 {
		t.Error("something was uploaded before the refusal")
	}
}

func TestPushRetries(t *testing.T) {
	cases := map[string]func(n int64, w http.ResponseWriter, r *http.Request) bool{
		"429 then success": func(n int64, w http.ResponseWriter, r *http.Request) bool {
			if n <= 3 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusTooManyRequests)
				return true
			}
			return false
		},
		"ghcr secondary rate limit": func(n int64, w http.ResponseWriter, r *http.Request) bool {
			if n <= 2 {
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, `{"errors":[{"code":"DENIED","message":"You have exceeded a secondary rate limit"}]}`)
				return true
			}
			return false
		},
		"connection dropped mid-blob": func(n int64, w http.ResponseWriter, r *http.Request) bool {
			if (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/") && n < 100 {
				io.CopyN(io.Discard, r.Body, 1000)
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.(*net.TCPConn).SetLinger(0)
					conn.Close()
				}
				return true
			}
			return false
		},
	}
	for name, fault := range cases {
		t.Run(name, func(t *testing.T) {
			fr := newRegistry(t)
			var n, dropped atomic.Int64
			fr.setFault(func(w http.ResponseWriter, r *http.Request) bool {
				k := n.Add(1)
				if name == "connection dropped mid-blob" {
					// Drop the first two uploads of blob bytes, then let them through. Uploads run
					// in parallel: a drop is reserved atomically before it happens.
					if (r.Method != http.MethodPatch && r.Method != http.MethodPut) || !strings.Contains(r.URL.Path, "/blobs/uploads/") {
						return false
					}
					for {
						d := dropped.Load()
						if d >= 2 {
							return false
						}
						if dropped.CompareAndSwap(d, d+1) {
							return fault(k, w, r)
						}
					}
				}
				return fault(k, w, r)
			})
			if _, err := push(fr.repo(), request(openImages(t)), nil); err != nil {
				t.Fatalf("push with %s: %v", name, err)
			}
			if name == "connection dropped mid-blob" && dropped.Load() != 2 {
				t.Errorf("the fault struck %d times, want 2", dropped.Load())
			}
			if len(fr.tags(t)) != 6 {
				t.Errorf("tags %v", fr.tags(t))
			}
		})
	}
}

func TestPushFailureTagsNothing(t *testing.T) {
	fr := newRegistry(t)
	// Every index upload fails: the architecture manifests land, but no tag may move.
	fr.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && strings.Contains(r.Header.Get("Content-Type"), "index") {
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		return false
	})
	_, err := push(fr.repo(), request(openImages(t)), nil)
	if err == nil || !strings.Contains(err.Error(), "push the index") {
		t.Fatalf("err = %v", err)
	}
	if tags := fr.tags(t); len(tags) != 0 {
		t.Errorf("tags written after a failed index push: %v", tags)
	}
}

func TestPushUnauthorized(t *testing.T) {
	fr := newRegistry(t)
	fr.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
		return true
	})
	_, err := push(fr.repo(), request(openImages(t)), nil, publish.WithRegistry(registryclient.WithCredentials(&registryclient.Credentials{Username: "ci", Password: "s3cret-value"})))
	if err == nil {
		t.Fatal("push succeeded against a registry refusing everyone")
	}
	msg := err.Error()
	if !strings.Contains(msg, fr.srv.Listener.Addr().String()) || !strings.Contains(msg, "--username and --password-stdin") || strings.Contains(msg, "s3cret-value") {
		t.Errorf("error %q must name the registry and the credential source, and never the secret", msg)
	}
}

// TestPlanTags: off the default branch, a branch with a slash gives BRANCH-SHA tags without
// latest; an extra tag goes on the index; a bad extra tag is refused before anything is read.
func TestPlanTags(t *testing.T) {
	fr := newRegistry(t)
	p, err := publish.New(fr.repo(), publish.WithTags("v1"))
	if err != nil {
		t.Fatal(err)
	}
	ims := openImages(t)[:1]
	plan, err := p.Plan(context.Background(), publish.Request{Images: ims, Rev: &publish.Revision{Branch: "dependabot/go/x", Commit: "abcdef0123"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(plan.Images[0].Tags, ","); got != "dependabot-go-x-abcdef0-x86_64-static" {
		t.Errorf("image tags %q", got)
	}
	if got := strings.Join(plan.Index.Tags, ","); got != "dependabot-go-x-abcdef0,v1" {
		t.Errorf("index tags %q", got)
	}
	for _, bad := range []string{"-bad", ".x", "a/b", "", strings.Repeat("x", 129)} {
		if _, err := publish.New(fr.repo(), publish.WithTags(bad)); err == nil {
			t.Errorf("tag %q accepted", bad)
		}
	}
	if _, err := publish.New(fr.repo(), publish.WithTags("ok_1.2")); err != nil {
		t.Error(err)
	}
}

// TestSplitPushThenIndex is the GitHub workflow's shape: each architecture pushed by its own job
// without an index, then one job writes the index from their digest references.
func TestSplitPushThenIndex(t *testing.T) {
	fr := newRegistry(t)
	ims := openImages(t)
	var refs []string
	for _, im := range ims {
		res, err := push(fr.repo(), request([]publish.Image{im}), nil, publish.WithoutIndex(true))
		if err != nil {
			t.Fatal(err)
		}
		if res.Index != nil || len(res.Refs()) != 1 {
			t.Fatalf("no-index push returned %+v", res)
		}
		refs = append(refs, res.Refs()...)
	}
	for _, tag := range fr.tags(t) {
		if tag == "latest" || tag == "feature-x-0123456" {
			t.Fatalf("index tag %q written before the index", tag)
		}
	}

	r := request(nil)
	r.Refs = refs
	res, err := push(fr.repo(), r, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"feature-x-0123456", "feature-x-0123456-aarch64-static", "feature-x-0123456-x86_64-static", "latest", "latest-aarch64-linux-static", "latest-x86_64-linux-static"}
	if got := strings.Join(fr.tags(t), " "); got != strings.Join(want, " ") {
		t.Errorf("tags %q, want %q", got, want)
	}
	// The same images and annotations give the same index as a one-shot push.
	whole, err := push(fr.repo(), request(openImages(t)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Index.Digest != whole.Index.Digest {
		t.Errorf("split index %s, one-shot index %s", res.Index.Digest, whole.Index.Digest)
	}

	r.Refs = []string{refs[0], refs[0]}
	if _, err := push(fr.repo(), r, nil); err == nil || !strings.Contains(err.Error(), "two images for linux/") {
		t.Errorf("duplicate platform: %v", err)
	}
	r.Refs = []string{"example.com/other/repo@" + strings.Split(refs[0], "@")[1]}
	if _, err := push(fr.repo(), r, nil); err == nil || !strings.Contains(err.Error(), "is not in") {
		t.Errorf("foreign repository: %v", err)
	}
}
