package push

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/image/imagetest"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/publish"
	"github.com/nixify/nixify/internal/record"
	"github.com/nixify/nixify/internal/testpeer"
)

// requestLog is an in-process registry that remembers every request it was sent.
type requestLog struct {
	mu   sync.Mutex
	seen []string
	h    http.Handler
}

func (r *requestLog) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.seen = append(r.seen, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	r.h.ServeHTTP(w, req)
}

func (r *requestLog) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// TestDryRunPredictsThePush runs push --dry-run, then the real push, on the same builds and commit:
// the dry run must print the digests and tags the push then writes, and send the registry nothing.
func TestDryRunPredictsThePush(t *testing.T) {
	git := testpeer.Binary(t, "git")
	dir := t.TempDir()
	store := record.Store{Dir: dir}
	labels := map[string]string{"org.opencontainers.image.description": "dry run test", "org.opencontainers.image.licenses": "MIT"}
	// A commit of its own: its time is the index's created annotation, so both runs agree on it.
	src := t.TempDir()
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "test"}} {
		cmd := exec.Command(git, append([]string{"-C", src}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE=2024-05-06T07:08:09Z", "GIT_AUTHOR_DATE=2024-05-06T07:08:09Z")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}

	commit := strings.TrimSpace(gitOut(t, git, src, "rev-parse", "HEAD"))
	for i, a := range arch.All {
		p := filepath.Join(dir, a.String()+".tar.gz")
		if _, err := imagetest.WriteFile(p, imagetest.Spec{Arch: a.GOARCH(), Seed: uint64(i), Compress: "gzip", Labels: labels}); err != nil {
			t.Fatal(err)
		}
		if err := store.Save(record.Build{Arch: a, OutPath: p, Kind: record.Tarball, FlakeRevision: commit}); err != nil {
			t.Fatal(err)
		}
	}

	rl := &requestLog{h: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(rl)
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/o/n"
	cfg := func() (*config.Loaded, error) {
		return &config.Loaded{Config: config.Config{StateDir: dir, Repo: repo, Architectures: arch.All}}, nil
	}
	env := map[string]string{"GITHUB_REPOSITORY": "nixify/nixify"}
	run := func(dryRun, asJSON bool) (stdout, stderr string, refs []byte) {
		t.Helper()
		ios, _, out, errOut := iostreams.Test()
		if asJSON {
			ios.Format = iostreams.JSON
		}
		refsFile := filepath.Join(t.TempDir(), "refs.txt")
		o := &Options{StallTimeout: time.Minute, IO: ios, Config: cfg, Getenv: func(k string) string { return env[k] }, WorkDir: src, Arch: "all",
			Tags: []string{"v1.2.3"}, DryRun: dryRun, ImageRefs: refsFile}
		if err := pushRun(context.Background(), o); err != nil {
			t.Fatalf("push (dry run %v): %v", dryRun, err)
		}
		refs, _ = os.ReadFile(refsFile)
		return out.String(), errOut.String(), refs
	}

	dryOut, dryErr, dryRefs := run(true, false)
	dryJSON, _, _ := run(true, true)
	// A dry run reads (the index tags' current indexes) but writes nothing.
	for _, r := range rl.requests() {
		if !strings.HasPrefix(r, "GET ") && !strings.HasPrefix(r, "HEAD ") {
			t.Fatalf("the dry runs sent the registry %q", rl.requests())
		}
	}
	if tags, err := remote.List(mustRepo(t, repo)); err == nil && len(tags) > 0 {
		t.Fatalf("after the dry runs the registry has tags %q", tags)
	}
	var want publish.Result
	if err := json.Unmarshal([]byte(dryJSON), &want); err != nil {
		t.Fatalf("%v: %s", err, dryJSON)
	}
	if !want.DryRun || len(want.Images) != 2 || want.Index.Digest == "" {
		t.Fatalf("dry run -o json: %s", dryJSON)
	}
	wantRefs := append([]string{want.Index.Ref}, want.Images[0].Ref, want.Images[1].Ref)
	// The text view prints the same references on stdout (images, then the index) and the tags on stderr.
	if got := strings.Fields(dryOut); !slices.Equal(got, append(wantRefs[1:], wantRefs[0])) {
		t.Errorf("dry run stdout %q, want %q", got, wantRefs)
	}
	if got := strings.Fields(string(dryRefs)); !slices.Equal(got, wantRefs) {
		t.Errorf("dry run --image-refs %q, want %q", got, wantRefs)
	}
	short := commit[:7]
	wantTags := map[arch.Arch][]string{
		"x86_64":  {"latest-x86_64-linux-static", "main-" + short + "-x86_64-static"},
		"aarch64": {"latest-aarch64-linux-static", "main-" + short + "-aarch64-static"},
		"":        {"latest", "main-" + short, "v1.2.3"},
	}
	for _, p := range append(want.Images, want.Index) {
		if !slices.Equal(p.Tags, wantTags[p.Arch]) {
			t.Errorf("dry run tags of %q: %q, want %q", p.Arch, p.Tags, wantTags[p.Arch])
		}
	}

	pushOut, pushErr, pushRefs := run(false, false)
	if pushOut != dryOut || !slices.Equal(pushRefs, dryRefs) {
		t.Errorf("the push printed\n%s\nthe dry run\n%s", pushOut, dryOut)
	}
	// Each "would push WHAT DIGEST tags: ..." line of the dry run is a "pushed ..." line of the push.
	if got, wantLines := summaryLines(pushErr, "pushed "), summaryLines(dryErr, "would push "); len(wantLines) != 3 || !slices.Equal(got, wantLines) {
		t.Errorf("push summary %q, dry run summary %q", got, wantLines)
	}
	var uploads int
	for _, r := range rl.requests() {
		if strings.HasPrefix(r, "POST ") && strings.Contains(r, "/blobs/uploads/") {
			uploads++
		}
	}
	if uploads == 0 {
		t.Fatalf("the push uploaded no blobs: %q", rl.requests())
	}

	// The registry holds what the dry run announced: every tag on the digest it named.
	r := mustRepo(t, repo)
	tags, err := remote.List(r)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, ts := range wantTags {
		all = append(all, ts...)
	}
	slices.Sort(all)
	slices.Sort(tags)
	if !slices.Equal(tags, all) {
		t.Errorf("registry tags %q, want %q", tags, all)
	}
	for _, p := range append(want.Images, want.Index) {
		for _, tag := range p.Tags {
			d, err := remote.Head(r.Tag(tag))
			if err != nil {
				t.Fatal(err)
			}
			if d.Digest.String() != p.Digest {
				t.Errorf("%s is %s, the dry run said %s", tag, d.Digest, p.Digest)
			}
		}
		if _, err := remote.Head(r.Digest(p.Digest)); err != nil {
			t.Errorf("%s: %v", p.Ref, err)
		}
	}
	// Both runs agreed because the index's created time is the commit's, not the clock's.
	idx, err := remote.Index(r.Digest(want.Index.Digest))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if a := im.Annotations; a["org.opencontainers.image.created"] != "2024-05-06T07:08:09Z" || a["org.opencontainers.image.revision"] != commit ||
		a["org.opencontainers.image.source"] != "https://github.com/nixify/nixify" || a["org.opencontainers.image.licenses"] != "MIT" {
		t.Errorf("index annotations %v", a)
	}
}

func mustRepo(t *testing.T, repo string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func gitOut(t *testing.T, git, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command(git, append([]string{"-C", dir}, args...)...).Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return string(out)
}

// summary returns the lines of out starting with verb, without it.
func summaryLines(out, verb string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(l, verb); ok {
			lines = append(lines, rest)
		}
	}
	return lines
}
