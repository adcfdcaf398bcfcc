package publish

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/nixify/nixify/internal/arch"
)

// Image is one architecture's image to push.
type Image struct {
	Arch  arch.Arch
	Image v1.Image
}

// Options shape a push.
type Options struct {
	Repo        string // REGISTRY/NAMESPACE/NAME
	Images      []Image
	Tags        Tags
	Annotations map[string]string // set on the index and on each manifest
	DryRun      bool
	// NoIndex pushes the images and their per-architecture tags only; a later PushIndex, in
	// another job or on another machine, adds the index (CI builds each architecture on its own runner).
	NoIndex bool
	// Refs are digest references (REPO@sha256:...) of images already in the registry: PushIndex's input.
	Refs        []string
	Credentials *Credentials
	Transport   http.RoundTripper // default http.DefaultTransport
	Backoff     remote.Backoff    // retry schedule; zero means 1 s doubling, 5 tries
	MaxWait     time.Duration     // longest Retry-After honoured (default 60 s)
	// Progress receives bytes uploaded per architecture; it may be called from several goroutines.
	Progress func(a arch.Arch, done, total int64)
}

// Pushed is one manifest or index in the registry.
type Pushed struct {
	Arch   arch.Arch `json:"arch,omitempty"`
	Digest string    `json:"digest"`
	Ref    string    `json:"ref"` // REPO@DIGEST
	Tags   []string  `json:"tags"`
}

// Result is what a push wrote (or, with DryRun, would write).
type Result struct {
	Repo   string   `json:"repo"`
	Images []Pushed `json:"images"`
	Index  Pushed   `json:"index"`
	DryRun bool     `json:"dryRun"`
}

// Refs are the digest references, index first (when there is one), for --image-refs.
func (r *Result) Refs() []string {
	var out []string
	if r.Index.Ref != "" {
		out = append(out, r.Index.Ref)
	}
	for _, p := range r.Images {
		out = append(out, p.Ref)
	}
	return out
}

// Push writes every image by digest, then the index by digest, then the tags: if anything fails
// before the tags, no tag moves, so no tag points to an incomplete index.
func Push(ctx context.Context, o Options) (*Result, error) {
	repo, err := name.NewRepository(o.Repo)
	if err != nil {
		return nil, fmt.Errorf("invalid repository %q: %v (accepted: REGISTRY/NAMESPACE/NAME, e.g. ghcr.io/owner/nixify-health-check)", o.Repo, err)
	}
	if len(o.Images) == 0 {
		return nil, errors.New("nothing to push")
	}
	res := &Result{Repo: repo.Name(), DryRun: o.DryRun}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	imgs := make([]v1.Image, len(o.Images))
	for i, im := range o.Images {
		cfg, err := im.Image.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("%s image: read config: %w", im.Arch, err)
		}
		if want := im.Arch.GOARCH(); cfg.Architecture != want || cfg.OS != "linux" {
			return nil, fmt.Errorf("refusing to push the %s image: its config says %s/%s, not linux/%s (was it built for another system?)", im.Arch, cfg.OS, cfg.Architecture, want)
		}
		img := im.Image
		if len(o.Annotations) > 0 {
			img = mutate.Annotations(img, o.Annotations).(v1.Image)
		}
		imgs[i] = img
		d, err := img.Digest()
		if err != nil {
			return nil, fmt.Errorf("%s image: %w", im.Arch, err)
		}
		res.Images = append(res.Images, Pushed{Arch: im.Arch, Digest: d.String(), Ref: repo.Digest(d.String()).String(), Tags: o.Tags.PerArch[im.Arch]})
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant},
			Annotations: o.Annotations,
		}})
	}
	idx = mutate.AppendManifests(idx, adds...)
	if len(o.Annotations) > 0 {
		idx = mutate.Annotations(idx, o.Annotations).(v1.ImageIndex)
	}
	id, err := idx.Digest()
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	res.Index = Pushed{Digest: id.String(), Ref: repo.Digest(id.String()).String(), Tags: o.Tags.Index}
	if o.DryRun {
		return res, nil
	}

	sess, err := o.session(ctx, repo)
	if err != nil {
		return nil, err
	}
	ropts, explain := sess.ropts, sess.explain

	// Architectures go up together: while one compresses a layer, the other's uploads use the network.
	var g errgroup.Group
	for i, img := range imgs {
		arch := o.Images[i].Arch
		g.Go(func() error {
			var extra []remote.Option
			var wg sync.WaitGroup
			if o.Progress != nil {
				ch := make(chan v1.Update, 64)
				extra = append(extra, remote.WithProgress(ch))
				wg.Add(1)
				go func() {
					defer wg.Done()
					for u := range ch {
						o.Progress(arch, u.Complete, u.Total)
					}
				}()
			}
			err := remote.Write(repo.Digest(res.Images[i].Digest), img, ropts(extra...)...)
			wg.Wait()
			if err != nil {
				return explain(fmt.Sprintf("push the %s image to %s", arch, repo), err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if o.NoIndex {
		res.Index = Pushed{}
		if err := tagImages(res, imgs, ropts, explain); err != nil {
			return nil, err
		}
		return res, nil
	}
	if err := remote.WriteIndex(repo.Digest(res.Index.Digest), idx, ropts()...); err != nil {
		return nil, explain("push the index to "+repo.String(), err)
	}
	// Only now do tags move: per architecture first, the index last.
	if err := tagImages(res, imgs, ropts, explain); err != nil {
		return nil, err
	}
	for _, t := range res.Index.Tags {
		if err := remote.Tag(repo.Tag(t), idx, ropts()...); err != nil {
			return nil, explain(fmt.Sprintf("tag the index as %s", t), err)
		}
	}
	return res, nil
}

func tagImages(res *Result, imgs []v1.Image, ropts func(...remote.Option) []remote.Option, explain func(string, error) error) error {
	for i, p := range res.Images {
		d, err := name.NewDigest(p.Ref)
		if err != nil {
			return err
		}
		for _, t := range p.Tags {
			if err := remote.Tag(d.Context().Tag(t), imgs[i], ropts()...); err != nil {
				return explain(fmt.Sprintf("tag %s as %s", p.Ref, t), err)
			}
		}
	}
	return nil
}

// session is what every registry call of one push shares: credentials, retries, rate limits,
// and errors that name the registry and the credential source without leaking a secret.
type session struct {
	ropts   func(extra ...remote.Option) []remote.Option
	explain func(what string, err error) error
}

func (o Options) session(ctx context.Context, repo name.Repository) (*session, error) {
	auth, source, err := resolveAuth(repo.Registry, o.Credentials)
	if err != nil {
		return nil, err
	}
	explain := func(what string, err error) error {
		var te *transport.Error
		if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
			return fmt.Errorf("%s: %s refused the credentials (tried: %s): %s", what, repo.RegistryStr(), source, scrub(err, o.Credentials))
		}
		return fmt.Errorf("%s: %s", what, scrub(err, o.Credentials))
	}
	base := o.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	maxWait := o.MaxWait
	if maxWait == 0 {
		maxWait = time.Minute
	}
	backoff := o.Backoff
	if backoff.Steps == 0 {
		backoff = remote.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.1, Steps: 5}
	}
	ropts := func(extra ...remote.Option) []remote.Option {
		return append([]remote.Option{remote.WithContext(ctx), remote.WithAuth(auth),
			remote.WithTransport(&rateLimit{inner: base, maxWait: maxWait}),
			remote.WithRetryBackoff(backoff), remote.WithJobs(4)}, extra...)
	}

	return &session{ropts: ropts, explain: explain}, nil
}

// scrub removes the password from an error text, in case a registry echoes it.
func scrub(err error, c *Credentials) string {
	s := err.Error()
	if c != nil && c.Password != "" {
		s = strings.ReplaceAll(s, c.Password, "***")
	}
	return s
}

// Annotations returns the OCI annotations for the index and manifests: the image's own OCI labels,
// with what is missing filled from the revision and the environment.
// created is when the source was committed (or the push time): it is fixed for a commit, so that
// pushing the same commit twice gives the same digests.
func Annotations(labels map[string]string, rev *Revision, getenv func(string) string, created time.Time) map[string]string {
	const p = "org.opencontainers.image."
	a := map[string]string{}
	for _, k := range []string{"source", "revision", "created", "description", "licenses", "title", "version", "url"} {
		if v := labels[p+k]; v != "" {
			a[p+k] = v
		}
	}
	if a[p+"source"] == "" && getenv("GITHUB_REPOSITORY") != "" {
		server := getenv("GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		a[p+"source"] = server + "/" + getenv("GITHUB_REPOSITORY")
	}
	if rev != nil && rev.Commit != "" {
		a[p+"revision"] = rev.Commit
	}
	// Nix images say 1970 for reproducibility; the index records when its source was made.
	if c := a[p+"created"]; c == "" || strings.HasPrefix(c, "1970") {
		a[p+"created"] = created.UTC().Format(time.RFC3339)
	}
	return a
}
