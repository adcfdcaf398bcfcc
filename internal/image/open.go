package image

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/record"
	"github.com/nixify/nixify/internal/registryclient"
)

// Kind says where an image came from.
type Kind string

const (
	FromBuild    Kind = "build"    // the last `nixify build` of an architecture
	FromArchive  Kind = "archive"  // a docker-archive file
	FromStream   Kind = "stream"   // the output of a streamLayeredImage script
	FromEngine   Kind = "engine"   // an image held by the Docker engine
	FromRegistry Kind = "registry" // a registry reference
)

// Image is one opened image and what is known of where it came from. Opening reads nothing: each
// use reads what it needs, once, within the context Open was given (go-containerregistry's lazy
// model). Close it when done.
type Image struct {
	Source string    // what was opened, as the user would name it
	Kind   Kind      // where it came from
	Arch   arch.Arch // the architecture it is filed under (a build's, an index entry's), if any

	// V1 is the image as go-containerregistry's v1.Image, whatever the source. An archive's layers
	// are read (and kept in a temporary file unless the archive is a plain file) on first use.
	V1      v1.Image
	Archive *Archive        // what a scan of an archive found, once Scan has run
	Entry   *v1.Descriptor  // the index entry, for an image reached through an index
	Build   *record.Build   // for the last build
	Tags    []string        // the names the engine holds it under (engine sources)
	Repo    name.Repository // the repository it was read from (registry sources)

	ctx  context.Context
	o    *options
	open func(context.Context) (io.ReadCloser, error) // the docker-archive's bytes, as stored or streamed
	file *os.File                                     // a file source, kept open: what is checked is what is handed on
	size int64                                        // archive bytes, when known

	configDigest string // known without a scan (build record, engine)
	arch         string // the architecture the engine reports

	peekOnce sync.Once
	peeked   *Archive // what scan's header pass found in a file source
	peekErr  error
	scanOnce sync.Once
	scanErr  error

	mu      sync.Mutex
	closers []func()
}

// Scan is what one read of the archive finds (metadata, the layers' digests and store paths),
// read on first use. Registry images have none.
func (i *Image) Scan() (*Archive, error) {
	i.scanOnce.Do(func() {
		if i.Archive != nil {
			return
		}
		if i.open == nil {
			i.scanErr = fmt.Errorf("%s is not an archive", i.Source)
			return
		}
		i.Archive, i.scanErr = i.read(nil)
	})
	return i.Archive, i.scanErr
}

// read scans the archive once, copying its uncompressed tar stream to keep when it is set.
func (i *Image) read(keep io.Writer) (*Archive, error) {
	rc, err := i.open(i.ctx)
	if err != nil {
		return nil, err
	}
	a, err := scan(i.ctx, rc, keep, false)
	// A script that failed explains itself better than the archive it cut short.
	if cerr := rc.Close(); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, fmt.Errorf("%s: read image archive: %w", i.Source, err)
	}
	return a, nil
}

// peek looks at a file source's headers and small JSON files, once: the config, and whether the
// engine may be handed it.
func (i *Image) peek() (*Archive, error) {
	i.peekOnce.Do(func() {
		i.peekErr = fmt.Errorf("%s is not a file", i.Source)
		if i.file != nil {
			i.peeked, i.peekErr = scan(i.ctx, io.NewSectionReader(i.file, 0, i.size), nil, true)
		}
	})
	return i.peeked, i.peekErr
}

// ConfigDigest is the image's config digest (the engine's image ID) when it is known without
// reading the layers: from a scan, the build record, the engine, or a file's headers and config.
func (i *Image) ConfigDigest() string {
	switch {
	case i.Archive != nil:
		return i.Archive.ConfigDigest
	case i.configDigest != "":
		return i.configDigest
	}
	if p, err := i.peek(); err == nil {
		return p.ConfigDigest
	}
	return ""
}

// Architecture is the architecture (GOARCH spelling) the image's config names, when it is known
// without reading the layers: from a scan or a file's config, the engine, or else the build
// record. "" when unknown.
func (i *Image) Architecture() string {
	cfg := []byte(nil)
	if i.Archive != nil {
		cfg = i.Archive.Config
	} else if p, err := i.peek(); err == nil {
		cfg = p.Config
	}
	var c struct {
		Architecture string `json:"architecture"`
	}
	switch {
	case json.Unmarshal(cfg, &c) == nil && c.Architecture != "":
		return c.Architecture
	case i.arch != "":
		return i.arch
	case i.Build != nil:
		return i.Build.Arch.GOARCH()
	}
	return ""
}

// OpenArchive returns the docker-archive's bytes as stored (a file) or streamed (a script), and
// their count when known, for loading into an engine. Nothing an engine must not unpack passes: a
// file is checked first, and handed on as the very bytes checked; a stream is checked entry by
// entry as it passes. Close reports a stream script's failure.
func (i *Image) OpenArchive(ctx context.Context) (io.ReadCloser, int64, error) {
	switch {
	case i.file != nil:
		if _, err := i.peek(); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", i.Source, err)
		}
		return io.NopCloser(io.NewSectionReader(i.file, 0, i.size)), i.size, nil
	case i.open != nil && i.Kind != FromEngine:
		rc, err := i.open(ctx)
		if err != nil {
			return nil, 0, fmt.Errorf("image archive %s: %w", i.Source, err)
		}
		return guardTar(rc), i.size, nil
	}
	return nil, 0, fmt.Errorf("%s is not an archive on this machine", i.Source)
}

// layers opens the image layer by layer (V1's source for archives): a plain file serves its
// layers by offset; anything else is decompressed once into a temporary file.
func (i *Image) layers() (*archiveImage, error) {
	var a *Archive
	var src io.ReaderAt
	var err error
	if p, perr := i.peek(); perr == nil && p.Compression == Uncompressed {
		a, err = i.Scan()
		src = i.file
	} else {
		var tmp *os.File
		if tmp, err = os.CreateTemp(i.o.tmpDir, "nixify-image-*.tar"); err != nil {
			return nil, fmt.Errorf("keep image archive: %w", err)
		}
		i.onClose(func() { tmp.Close(); os.Remove(tmp.Name()) })
		bw := bufio.NewWriterSize(tmp, 1<<20)
		if a, err = i.read(bw); err == nil {
			err = bw.Flush()
		}
		src = tmp
	}
	if err != nil {
		return nil, err
	}
	i.scanOnce.Do(func() { i.Archive = a }) // what was read is the scan
	layersDir, err := os.MkdirTemp(i.o.tmpDir, "nixify-layers-*")
	if err != nil {
		return nil, fmt.Errorf("open image archive: %w", err)
	}
	i.onClose(func() { os.RemoveAll(layersDir) })
	v, err := newArchiveImage(a, src, i.o.cache, layersDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", i.Source, err)
	}
	return v, nil
}

func (i *Image) onClose(f func()) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.closers = append(i.closers, f)
}

// Close releases the source and removes temporary files.
func (i *Image) Close() {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, c := range i.closers {
		c()
	}
	i.closers = nil
}

// Set is what a reference resolves to: one image, or a multi-arch index and its images.
type Set struct {
	Images []*Image
	Index  *Index // nil unless the reference named an index
}

// Index is a registry's multi-arch index.
type Index struct {
	Ref         string            `json:"ref"`
	Digest      string            `json:"digest"`
	MediaType   string            `json:"mediaType"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Index       v1.ImageIndex     `json:"-"`
}

// Close closes every image.
func (s *Set) Close() {
	for _, i := range s.Images {
		i.Close()
	}
}

type options struct {
	tmpDir string
	cache  *LayerCache
	engine engine.Images
	client []registryclient.Option
}

// Option changes how an image is opened.
type Option func(*options)

// WithTempDir sets where temporary copies go (default os.TempDir()).
func WithTempDir(dir string) Option { return func(o *options) { o.tmpDir = dir } }

// WithLayerCache remembers compressed layer digests across runs.
func WithLayerCache(c *LayerCache) Option { return func(o *options) { o.cache = c } }

// WithEngine is the Docker engine that engine references name images in.
func WithEngine(e engine.Images) Option { return func(o *options) { o.engine = e } }

// WithRegistry sets how registries are asked (credentials, transport, timeouts).
func WithRegistry(opts ...registryclient.Option) Option {
	return func(o *options) { o.client = append(o.client, opts...) }
}

// Open turns a reference into its images: the one door every command (info, run, up, push, sbom,
// build) goes through. A registry index gives its images and the index; every other source one
// image. Only what tells whether the source is there is read now (a file is opened, an engine
// image inspected, a registry's manifest fetched).
func Open(ctx context.Context, ref Ref, opts ...Option) (*Set, error) {
	o := &options{}
	for _, f := range opts {
		f(o)
	}
	if ref.Kind == FromRegistry {
		return openRemote(ctx, ref, o)
	}
	img := &Image{Source: ref.Name, Kind: ref.Kind, ctx: ctx, o: o}
	var err error
	switch ref.Kind {
	case FromBuild:
		err = img.openBuild(*ref.Build)
	case FromArchive:
		err = img.openFile(ref.Name)
	case FromStream:
		img.openStream(ref.Name)
	case FromEngine:
		err = img.openEngine(ref.Name)
	default:
		err = fmt.Errorf("%s: %w", ref.Name, ErrBadReference)
	}
	if err != nil {
		img.Close()
		return nil, err
	}
	if img.V1, err = partial.CompressedToImage(&lazyCore{get: sync.OnceValues(img.layers)}); err != nil {
		img.Close()
		return nil, err
	}
	return &Set{Images: []*Image{img}}, nil
}

// openBuild opens an architecture's last build; its record tells the kind and the config digest.
func (i *Image) openBuild(b record.Build) error {
	i.Arch, i.Build, i.configDigest, i.size = b.Arch, &b, b.ConfigDigest, b.Size
	i.Source = fmt.Sprintf("last build (%s): %s", b.Arch, b.OutPath)
	if b.Kind != record.Stream {
		if err := i.openFile(b.OutPath); err != nil {
			return fmt.Errorf("last %s build: %w", b.Arch, err)
		}
		return nil
	}
	// The record is a file anyone with write access to the state directory can edit: it names a
	// script to run only inside the Nix store.
	p, err := storeScript(b.OutPath)
	if err != nil {
		return fmt.Errorf("last %s build: %w", b.Arch, err)
	}
	i.openStream(p)
	return nil
}

// openFile opens a docker-archive file, plain, gzip or zstd, and keeps it open.
func (i *Image) openFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("open image archive: %w", err)
	}
	i.onClose(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open image archive: %w", err)
	}
	i.file, i.size = f, st.Size()
	i.open = func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(io.NewSectionReader(f, 0, st.Size())), nil
	}
	return nil
}

// openStream reads the archive a streamLayeredImage script writes to stdout, running it anew for
// each read.
func (i *Image) openStream(script string) {
	i.open = func(ctx context.Context) (io.ReadCloser, error) { return runStream(ctx, script) }
}

// openEngine finds an image in the Docker engine (by name or ID); its archive is saved from the
// engine when read.
func (i *Image) openEngine(ref string) error {
	if i.o.engine == nil {
		return fmt.Errorf("image %s is in the Docker engine, and no engine was given", ref)
	}
	held, err := i.o.engine.ImageInspect(i.ctx, ref)
	if errors.Is(err, engine.ErrNotFound) {
		return fmt.Errorf("no image %q: not a file, and the Docker engine has no such image: %w", ref, err)
	}
	if err != nil {
		return err
	}
	i.configDigest, i.arch, i.Tags = held.ID, held.Architecture, held.RepoTags
	eng := i.o.engine
	i.open = func(ctx context.Context) (io.ReadCloser, error) {
		rc, err := eng.ImageSave(ctx, ref)
		if err != nil {
			return nil, fmt.Errorf("save %s from the Docker engine: %w", ref, err)
		}
		return rc, nil
	}
	return nil
}
