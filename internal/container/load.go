package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/image"
)

// Progress receives the bytes read from the source so far, the total when known (0 otherwise), and
// the engine's latest status line.
type Progress func(done, total int64, status string)

// Loaded says what Load did.
type Loaded struct {
	ImageID string   `json:"imageId"` // sha256:... config digest
	Refs    []string `json:"refs"`    // what the engine reported loading
	Skipped bool     `json:"skipped"` // the engine already held the image
	Bytes   int64    `json:"bytes"`   // archive bytes streamed to the engine
}

// Load makes sure the engine holds img (from image.Open): it streams the
// archive into ImageLoad unless the engine already has the image's config digest.
func Load(ctx context.Context, eng engine.Images, img *image.Image, progress Progress) (Loaded, error) {
	if progress == nil {
		progress = func(int64, int64, string) {}
	}
	want := img.ConfigDigest()
	if want != "" {
		held, err := eng.ImageInspect(ctx, want)
		if err == nil {
			return Loaded{ImageID: held.ID, Refs: held.RepoTags, Skipped: true}, nil
		}
		if !errors.Is(err, engine.ErrNotFound) {
			return Loaded{}, err
		}
	}
	r, total, err := img.OpenArchive(ctx)
	if err != nil {
		return Loaded{}, err
	}
	var status atomic.Value
	status.Store("")
	cr := &countingReader{r: r, report: func(n int64) { progress(n, total, status.Load().(string)) }}
	refs, loadErr := eng.ImageLoad(ctx, cr, func(ev engine.LoadEvent) {
		status.Store(ev.Status)
		progress(cr.n.Load(), total, ev.Status)
	})
	// A stream script that failed explains itself better than the engine's "unexpected EOF".
	werr := r.Close()
	if ctx.Err() != nil {
		return Loaded{}, ctx.Err()
	}
	if werr != nil {
		return Loaded{}, werr
	}
	if loadErr != nil {
		return Loaded{}, fmt.Errorf("%s: %w", img.Source, loadErr)
	}
	id, err := loadedID(ctx, eng, refs)
	if err != nil {
		return Loaded{}, err
	}
	if img.Build != nil && want != "" && id != want {
		return Loaded{}, fmt.Errorf("load %s: the engine holds %s now, but the build recorded %s: build again", img.Source, id, want)
	}
	return Loaded{ImageID: id, Refs: refs, Bytes: cr.n.Load()}, nil
}

// loadedID is the config digest of what the engine says it loaded.
func loadedID(ctx context.Context, eng engine.Images, refs []string) (string, error) {
	for _, ref := range refs {
		if strings.HasPrefix(ref, "sha256:") {
			return ref, nil
		}
	}
	if len(refs) == 0 {
		return "", errors.New("the engine loaded nothing")
	}
	held, err := eng.ImageInspect(ctx, refs[0])
	if err != nil {
		return "", err
	}
	return held.ID, nil
}

type countingReader struct {
	r      io.Reader
	n      atomic.Int64
	report func(int64)
	last   int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	total := c.n.Add(int64(n))
	// Report every 4 MiB: enough for a smooth bar, few enough not to matter.
	if total-c.last >= 4<<20 || err != nil {
		c.last = total
		c.report(total)
	}
	return n, err
}
