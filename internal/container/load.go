package container

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"strings"
	"sync/atomic"

	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/record"
)

// Source is an image archive on this machine: a docker-archive file (plain, gzip or zstd) or an
// executable that writes one to stdout (Nix's streamLayeredImage).
type Source struct {
	Path   string
	Stream bool
	// ConfigDigest is the image's ID when known (from the build record); when the engine already
	// holds that image, nothing is loaded.
	ConfigDigest string
	// Size is the archive's size in bytes when known, for progress of a stream.
	Size int64
}

// SourceFromBuild is the image a recorded build produced.
func SourceFromBuild(b record.Build) Source {
	return Source{Path: b.OutPath, Stream: b.Kind == record.Stream, ConfigDigest: b.ConfigDigest, Size: b.Size}
}

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

// Load makes sure the engine holds the source's image: it streams the archive into ImageLoad
// unless the engine already has the image's config digest.
func Load(ctx context.Context, eng engine.Images, src Source, progress Progress) (Loaded, error) {
	if progress == nil {
		progress = func(int64, int64, string) {}
	}
	digest := src.ConfigDigest
	if digest == "" && !src.Stream {
		digest = archiveConfigDigest(src.Path)
	}
	if digest != "" {
		img, err := eng.ImageInspect(ctx, digest)
		if err == nil {
			return Loaded{ImageID: img.ID, Refs: img.RepoTags, Skipped: true}, nil
		}
		if !errors.Is(err, engine.ErrNotFound) {
			return Loaded{}, err
		}
	}
	r, total, wait, err := open(ctx, src)
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
	r.Close()
	// A stream script that failed explains itself better than the engine's "unexpected EOF".
	if werr := wait(); werr != nil {
		return Loaded{}, werr
	}
	if loadErr != nil {
		return Loaded{}, fmt.Errorf("%s: %w", src.Path, loadErr)
	}
	id := ""
	for _, ref := range refs {
		if strings.HasPrefix(ref, "sha256:") {
			id = ref
			break
		}
	}
	if id == "" {
		img, err := eng.ImageInspect(ctx, refs[0])
		if err != nil {
			return Loaded{}, err
		}
		id = img.ID
	}
	if src.ConfigDigest != "" && id != src.ConfigDigest {
		return Loaded{}, fmt.Errorf("load %s: the engine holds %s now, but the build recorded %s: build again", src.Path, id, src.ConfigDigest)
	}
	return Loaded{ImageID: id, Refs: refs, Bytes: cr.n.Load()}, nil
}

// open returns the archive's bytes, their total when known, and a function that reports how the
// producer ended (a stream script's exit status).
func open(ctx context.Context, src Source) (io.ReadCloser, int64, func() error, error) {
	fi, err := os.Stat(src.Path)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("image archive %s: %w", src.Path, err)
	}
	if !src.Stream {
		f, err := os.Open(src.Path)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("image archive %s: %w", src.Path, err)
		}
		return f, fi.Size(), func() error { return nil }, nil
	}
	cmd := exec.CommandContext(ctx, src.Path)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{b: &stderr, max: 8 << 10}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, 0, nil, fmt.Errorf("image stream %s: %w", src.Path, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, 0, nil, fmt.Errorf("image stream %s: %w", src.Path, err)
	}
	wait := func() error {
		if err := cmd.Wait(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			msg := strings.TrimSpace(stderr.String())
			if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
				msg = msg[i+1:]
			}
			return fmt.Errorf("image stream %s failed (%v): %s", src.Path, err, msg)
		}
		return nil
	}
	return out, src.Size, wait, nil
}

// archiveConfigDigest reads the config digest from an uncompressed docker-archive's manifest.json
// without reading its layers (tar skips them by seeking). It returns "" for compressed archives or
// anything it cannot read: the image is then simply loaded.
func archiveConfigDigest(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil {
		return ""
	}
	if bytes.HasPrefix(magic, []byte{0x1f, 0x8b}) || bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		return ""
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return ""
	}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			return ""
		}
		if path.Clean(h.Name) != "manifest.json" {
			continue
		}
		var m []struct{ Config string }
		if err := json.NewDecoder(bufio.NewReader(tr)).Decode(&m); err != nil || len(m) == 0 {
			return ""
		}
		// "<hex>.json" in the classic layout, "blobs/sha256/<hex>" in the OCI-shaped one,
		// "sha256:<hex>" from go-containerregistry.
		hex := strings.TrimPrefix(strings.TrimSuffix(path.Base(m[0].Config), ".json"), "sha256:")
		if len(hex) != 64 {
			return ""
		}
		return "sha256:" + hex
	}
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

// limitedBuffer keeps the last max bytes of a child's stderr, where its reason for failing is.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.b.Write(p)
	if over := l.b.Len() - l.max; over > 0 {
		l.b.Next(over)
	}
	return len(p), nil
}
