package publish

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"

	"github.com/nixify/nixify/internal/arch"
)

// Result is a plan and, once pushed, what the push did.
type Result struct {
	*Plan
	DryRun bool   `json:"dryRun"`
	Stats  *Stats `json:"stats,omitempty"` // nil for a dry run
}

// Stats say what a push did, counted from the requests the registry accepted.
type Stats struct {
	BlobsUploaded    int   `json:"blobsUploaded"`
	BytesUploaded    int64 `json:"bytesUploaded"`
	BlobsReused      int   `json:"blobsReused"` // already in the registry (or mounted)
	ManifestsWritten int   `json:"manifestsWritten"`
	IndexesWritten   int   `json:"indexesWritten"`
	TagsMoved        int   `json:"tagsMoved"`
	TagsUnchanged    int   `json:"tagsUnchanged"`
	// Referrers (SBOM, provenance) written; their fallback tag sha256-DIGEST, on registries
	// without the referrers API, is not counted as a tag.
	ReferrersAttached int     `json:"referrersAttached"`
	Seconds           float64 `json:"durationSeconds"`
}

// Unchanged reports whether the push found everything in place and wrote nothing.
func (s *Stats) Unchanged() bool {
	return s.BlobsUploaded == 0 && s.ManifestsWritten == 0 && s.IndexesWritten == 0 && s.TagsMoved == 0 && s.ReferrersAttached == 0
}

// Progress receives bytes uploaded per architecture; it may be called from several goroutines.
type Progress func(a arch.Arch, done, total int64)

// Push executes a plan: every image by digest (architectures together: while one compresses a
// layer, the other's uploads use the network), then the index, then the documents attached to the
// images (referrers), then the tags, images' first.
// progress may be nil.
func (p *Publisher) Push(ctx context.Context, plan *Plan, progress Progress) (*Result, error) {
	start := time.Now()
	sizes := map[string]int64{}
	for _, it := range append(plan.Items(), plan.Referrers...) {
		for _, b := range it.blobs {
			sizes[b.Digest.String()] = b.Size
		}
	}
	p.count.reset(sizes)
	p.count.referrers = referrerDigests(plan)
	var g errgroup.Group
	for _, it := range plan.Images {
		g.Go(func() error { return p.write(ctx, it, progress) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if plan.Index != nil {
		if err := p.write(ctx, plan.Index, nil); err != nil {
			return nil, err
		}
	}
	for _, it := range plan.Referrers {
		if err := p.write(ctx, it, nil); err != nil {
			return nil, err
		}
	}
	unchanged := 0
	for _, it := range plan.Items() {
		n, err := p.tag(ctx, it)
		if err != nil {
			return nil, err
		}
		unchanged += n
	}
	st := p.count.stats(len(sizes))
	st.TagsUnchanged, st.Seconds = unchanged, time.Since(start).Seconds()
	return &Result{Plan: plan, Stats: st}, nil
}

// write puts one manifest and what it references by digest; what the registry has is skipped.
func (p *Publisher) write(ctx context.Context, it *Item, progress Progress) error {
	var extra []remote.Option
	var wg sync.WaitGroup
	var ch chan v1.Update
	if progress != nil {
		ch = make(chan v1.Update, 64)
		extra = append(extra, remote.WithProgress(ch))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range ch {
				progress(it.Arch, u.Complete, u.Total)
			}
		}()
	}
	ref := p.c.Repo.Digest(it.Digest)
	what := fmt.Sprintf("push the %s to %s", it.what(), p.c.Repo)
	var err error
	switch obj := it.obj.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(ref, obj, p.c.Options(ctx, extra...)...)
		if racedAnotherPush(err) {
			err = remote.WriteIndex(ref, obj, p.c.Options(ctx)...)
		}
		ch = nil // closed by WriteIndex
	case v1.Image:
		err = p.writeImage(ctx, ref, obj, p.c.Options(ctx, extra...))
	default:
		err = fmt.Errorf("cannot write %T", it.obj)
	}
	if ch != nil {
		close(ch) // the pusher's sends are over when it returns
	}
	wg.Wait()
	var be *blobError
	if errors.As(err, &be) {
		return p.c.Explain(fmt.Sprintf("%s: %s", what, be.what), be.err)
	}
	return p.c.Explain(what, err)
}

// writeImage uploads an image's blobs one by one (a few at a time), so that a blob the registry
// will not take is named with its tries, then its manifest. An image the registry has already
// costs one request.
func (p *Publisher) writeImage(ctx context.Context, ref name.Digest, img v1.Image, opts []remote.Option) error {
	if _, err := remote.Head(ref, opts...); err == nil {
		return nil
	}
	pusher, err := remote.NewPusher(opts...)
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	cfg, err := partial.ConfigLayer(img)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadJobs)
	for i, l := range append(layers, cfg) {
		g.Go(func() error {
			t := &tries{}
			err := pusher.Upload(context.WithValue(gctx, triesKey{}, t), p.c.Repo, l)
			if err == nil || gctx.Err() != nil && ctx.Err() == nil {
				return err // (another blob's failure stopped this one: that one is told)
			}
			n := t.n.Load()
			if n == 0 {
				return err // no request of this blob's failed: the registry did (its ping, say)
			}
			d, _ := l.Digest()
			size, _ := l.Size()
			blob := fmt.Sprintf("layer %d of %d", i+1, len(layers))
			if i == len(layers) {
				blob = "config"
			}
			return &blobError{what: fmt.Sprintf("%s (%s, %s) failed after %d %s", blob, shortDigest(d.String()), bytesText(size), n, plural(n, "try", "tries")), err: err}
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Every blob is there: the manifest alone is left (Push would walk the layers again).
	err = pusher.Put(ctx, ref, img)
	if racedAnotherPush(err) {
		err = remote.Write(ref, img, p.c.Options(ctx)...) // every blob checked again, what is missing uploaded
	}
	return err
}

// racedAnotherPush tells the registry's answer when another push wrote the same blobs at the same
// moment: distribution 2.8 can then find a blob it holds unknown, or its content not matching,
// for an instant. The write is tried once more; a blob really missing fails the same way again.
func racedAnotherPush(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, d := range te.Errors {
		switch d.Code {
		case transport.ManifestBlobUnknownErrorCode, transport.BlobUnknownErrorCode, transport.DigestInvalidErrorCode:
			return true
		}
	}
	return false
}

// uploadJobs is how many blobs of one image are uploaded at once, as go-containerregistry does.
const uploadJobs = 4

// blobError is one blob that could not be uploaded: which one, and how often it was tried.
type blobError struct {
	what string
	err  error
}

func (e *blobError) Error() string { return e.what + ": " + e.err.Error() }
func (e *blobError) Unwrap() error { return e.err }

// tries counts the failed requests of one blob's upload (its HEAD, POST, PATCH and PUT; not the
// registry's ping, not those stopped by another blob's failure), each of which ends one try:
// within a try go-containerregistry does not retry requests. The counter finds it in the
// request's context.
type tries struct{ n atomic.Int64 }

type triesKey struct{}

func shortDigest(d string) string { return d[:min(len(d), len("sha256:")+12)] }

func bytesText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// tag points each of the item's tags at it, skipping those that already do; it returns how many
// were already in place.
func (p *Publisher) tag(ctx context.Context, it *Item) (int, error) {
	unchanged := 0
	for _, t := range it.Tags {
		ref := p.c.Repo.Tag(t)
		if d, err := remote.Head(ref, p.c.Options(ctx)...); err == nil && d.Digest.String() == it.Digest {
			unchanged++
			continue
		}
		if err := remote.Tag(ref, it.obj, p.c.Options(ctx)...); err != nil {
			return 0, p.c.Explain(fmt.Sprintf("tag the %s as %s", it.what(), t), err)
		}
	}
	return unchanged, nil
}

func (it *Item) what() string {
	if it.Arch != "" {
		return it.Arch.String() + " " + string(it.Kind)
	}
	return string(it.Kind)
}

// counter counts the writes the registry accepted, from the requests themselves: what was
// uploaded, and what the registry already had, cannot then disagree with what happened.
type counter struct {
	mu        sync.Mutex
	sizes     map[string]int64
	uploaded  map[string]bool
	manifests int
	indexes   int
	tags      int

	referrers map[string]bool // digests of the plan's referrers (referrers.go)
	attached  int
}

func (c *counter) reset(sizes map[string]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sizes, c.uploaded, c.manifests, c.indexes, c.tags, c.attached = sizes, map[string]bool{}, 0, 0, 0, 0
}

func (c *counter) stats(blobs int) *Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := &Stats{BlobsUploaded: len(c.uploaded), ManifestsWritten: c.manifests, IndexesWritten: c.indexes, TagsMoved: c.tags, ReferrersAttached: c.attached}
	for d := range c.uploaded {
		st.BytesUploaded += c.sizes[d]
	}
	st.BlobsReused = max(0, blobs-len(c.uploaded))
	return st
}

func (c *counter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if err == nil && req.Method == http.MethodPut && resp.StatusCode == http.StatusCreated {
			c.record(req)
		}
		if t, ok := req.Context().Value(triesKey{}).(*tries); ok && strings.Contains(req.URL.Path, "/blobs/") && req.Context().Err() == nil &&
			(err != nil || resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests) {
			t.n.Add(1)
		}
		return resp, err
	})
}

func (c *counter) record(req *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	path := req.URL.Path
	switch {
	case strings.Contains(path, "/blobs/uploads/"):
		if d := req.URL.Query().Get("digest"); d != "" && c.uploaded != nil {
			c.uploaded[d] = true
		}
	case c.referrers[path[strings.LastIndexByte(path, '/')+1:]]:
		c.attached++
	case strings.Contains(path, "/manifests/sha256-"):
		// the referrers fallback tag, moved along with the referrer just written
	case strings.Contains(path, "/manifests/sha256:"):
		if strings.Contains(req.Header.Get("Content-Type"), "index") {
			c.indexes++
		} else {
			c.manifests++
		}
	case strings.Contains(path, "/manifests/"):
		c.tags++
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
