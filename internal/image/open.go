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

// Image is one opened image and what is known of where it came from. Close it when done.
type Image struct {
	Source string    // what was opened, as the user would name it
	Kind   Kind      // where it came from
	Arch   arch.Arch // the architecture it is filed under (a build's, an index entry's), if any

	// V1 is the image as go-containerregistry's v1.Image, whatever the source. It is lazy: an
	// archive's layers are read (and kept in a temporary file) only when something asks for them,
	// within the context Open was given; WithLayers keeps them on the first read instead.
	V1      v1.Image
	Archive *Archive       // what a scan of an archive found (build, archive, stream and engine sources); see Scan
	Entry   *v1.Descriptor // the index entry, for an image reached through an index
	Build   *record.Build
	Tags    []string        // the names the engine holds it under (engine sources)
	Repo    name.Repository // the repository it was read from (registry sources)

	configDigest string                                       // known without a scan (build record, manifest.json)
	config       []byte                                       // the raw config, when known without a scan
	arch         string                                       // the architecture the engine reports
	size         int64                                        // archive bytes, when known
	raw          func(context.Context) (io.ReadCloser, error) // the docker-archive's bytes

	scanOnce sync.Once
	rescan   func() (*Archive, error)
	scanErr  error

	closers []func()
}

// Scan is what one read of the archive finds (metadata, layers' digests and store paths), read
// now if the image was opened WithoutScan. Registry images have none.
func (i *Image) Scan() (*Archive, error) {
	i.scanOnce.Do(func() {
		if i.Archive == nil && i.rescan != nil {
			i.Archive, i.scanErr = i.rescan()
		}
	})
	if i.Archive == nil && i.scanErr == nil {
		return nil, fmt.Errorf("%s is not an archive", i.Source)
	}
	return i.Archive, i.scanErr
}

// ConfigDigest is the image's config digest (the engine's image ID) when it is known: from a scan,
// the build record, or an uncompressed archive's manifest.json. Empty otherwise.
func (i *Image) ConfigDigest() string {
	if i.Archive != nil {
		return i.Archive.ConfigDigest
	}
	return i.configDigest
}

// Architecture is the architecture (GOARCH spelling) the image's config names, when it is known
// without reading layers: from the scan, an archive's config, or else the build record. "" when
// unknown (a stream script opened WithoutScan names only its record's).
func (i *Image) Architecture() string {
	cfg := i.config
	if i.Archive != nil {
		cfg = i.Archive.Config
	}
	var c struct {
		Architecture string `json:"architecture"`
	}
	if json.Unmarshal(cfg, &c) == nil && c.Architecture != "" {
		return c.Architecture
	}
	if i.arch != "" {
		return i.arch
	}
	if i.Build != nil {
		return i.Build.Arch.GOARCH()
	}
	return ""
}

// OpenArchive returns the docker-archive's bytes as stored (a file) or streamed (a script), and
// their count when known; for loading into an engine. Close reports a stream script's failure.
func (i *Image) OpenArchive(ctx context.Context) (io.ReadCloser, int64, error) {
	if i.raw == nil {
		return nil, 0, fmt.Errorf("%s is not an archive on this machine", i.Source)
	}
	rc, err := i.raw(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("image archive %s: %w", i.Source, err)
	}
	return rc, i.size, nil
}

// Close removes temporary files.
func (i *Image) Close() {
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
	layers bool
	lazy   bool
	tmpDir string
	cache  *LayerCache
	engine engine.Images
	client []registryclient.Option
}

// Option changes how an image is opened.
type Option func(*options)

// WithLayers makes archive sources readable layer by layer (for push): compressed archives and
// streams are then decompressed once into a temporary file.
func WithLayers() Option { return func(o *options) { o.layers = true } }

// WithoutScan opens archive sources (builds, files, stream scripts) without reading them: for
// loading into the engine, which reads the archive itself. Archive and Image stay nil; the config
// digest is known when the build record or an uncompressed archive's manifest.json tells it.
func WithoutScan() Option { return func(o *options) { o.lazy = true } }

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

func collect(opts []Option) *options {
	o := &options{}
	for _, f := range opts {
		f(o)
	}
	return o
}

// Open turns a reference into its images: the one door every command (info, run, up, push, build)
// goes through. A registry index gives its images and the index; every other source one image.
func Open(ctx context.Context, ref Ref, opts ...Option) (*Set, error) {
	o := collect(opts)
	if ref.Kind == FromRegistry {
		return openRemote(ctx, ref, o)
	}
	img, err := openOne(ctx, ref, o)
	if err != nil {
		return nil, err
	}
	// What was not read now is read when asked for: the source is opened again.
	again := func(layers bool) (*Image, error) {
		lo := *o
		lo.layers, lo.lazy = layers, false
		return openOne(ctx, ref, &lo)
	}
	if img.Archive == nil {
		img.rescan = func() (*Archive, error) {
			full, err := again(false)
			if err != nil {
				return nil, err
			}
			full.Close()
			return full.Archive, nil
		}
	}
	if img.V1 == nil {
		img.V1 = &lazyImage{open: func() (v1.Image, error) {
			full, err := again(true)
			if err != nil {
				return nil, err
			}
			img.closers = append(img.closers, full.Close)
			return full.V1, nil
		}}
	}
	return &Set{Images: []*Image{img}}, nil
}

// openOne opens a source of one image.
func openOne(ctx context.Context, ref Ref, o *options) (*Image, error) {
	var img *Image
	var err error
	switch ref.Kind {
	case FromBuild:
		img, err = openBuild(ctx, *ref.Build, o)
	case FromArchive:
		img, err = openArchiveFile(ctx, ref.Name, o)
	case FromStream:
		img, err = openStream(ctx, ref.Name, o)
	case FromEngine:
		img, err = openEngine(ctx, ref.Name, o)
	default:
		err = fmt.Errorf("%s: %w", ref.Name, ErrBadReference)
	}
	return img, err
}

// openBuild opens an architecture's last build; its record tells the kind and the config digest.
func openBuild(ctx context.Context, b record.Build, o *options) (*Image, error) {
	var img *Image
	var err error
	switch b.Kind {
	case record.Stream:
		// The record is a file anyone with write access to the state directory can edit: it
		// names a script to run only inside the Nix store.
		var p string
		if p, err = storeScript(b.OutPath); err == nil {
			img, err = openStream(ctx, p, o)
		}
	default:
		img, err = openArchiveFile(ctx, b.OutPath, o)
	}
	if err != nil {
		return nil, fmt.Errorf("last %s build: %w", b.Arch, err)
	}
	img.Kind, img.Arch, img.Build = FromBuild, b.Arch, &b
	img.Source = fmt.Sprintf("last build (%s): %s", b.Arch, b.OutPath)
	if b.ConfigDigest != "" {
		img.configDigest = b.ConfigDigest
	}
	if img.size == 0 {
		img.size = b.Size
	}
	return img, nil
}

// openArchiveFile opens a docker-archive file, plain, gzip or zstd.
func openArchiveFile(ctx context.Context, p string, o *options) (*Image, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open image archive: %w", err)
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open image archive: %w", err)
	}
	img := &Image{Source: p, Kind: FromArchive, size: st.Size()}
	if o.lazy {
		// Whatever named the file (the user, the build record), it is checked before an engine
		// unpacks it, and the engine is handed the very bytes that were checked.
		pk, err := peek(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		img.configDigest, img.config = pk.configDigest, pk.config
		keep := f
		f = nil // kept open until Close
		img.closers = append(img.closers, func() { keep.Close() })
		img.raw = func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(io.NewSectionReader(keep, 0, st.Size())), nil
		}
		return img, nil
	}
	head := make([]byte, sniffBytes)
	n, _ := io.ReadFull(f, head)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("open image archive: %w", err)
	}
	if !o.layers {
		a, err := ReadArchive(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		img.Archive = a
		return img, nil
	}
	if detectCompression(head[:n]) == Uncompressed {
		// The file itself serves layers by offset.
		a, err := ReadArchive(ctx, bufio.NewReaderSize(f, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		src, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("open image archive: %w", err)
		}
		img.closers = append(img.closers, func() { src.Close() })
		return finishArchive(img, a, src, o)
	}
	return readKept(ctx, img, f, o)
}

// readKept scans r while keeping its uncompressed tar stream in a temporary file.
func readKept(ctx context.Context, img *Image, r io.Reader, o *options) (*Image, error) {
	tmp, err := os.CreateTemp(o.tmpDir, "nixify-image-*.tar")
	if err != nil {
		return nil, fmt.Errorf("keep image archive: %w", err)
	}
	img.closers = append(img.closers, func() { tmp.Close(); os.Remove(tmp.Name()) })
	bw := bufio.NewWriterSize(tmp, 1<<20)
	a, err := scan(ctx, r, bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		img.Close()
		return nil, fmt.Errorf("%s: read image archive: %w", img.Source, err)
	}
	return finishArchive(img, a, tmp, o)
}

func finishArchive(img *Image, a *Archive, src io.ReaderAt, o *options) (*Image, error) {
	img.Archive = a
	layersDir, err := os.MkdirTemp(o.tmpDir, "nixify-layers-*")
	if err != nil {
		img.Close()
		return nil, fmt.Errorf("open image archive: %w", err)
	}
	img.closers = append(img.closers, func() { os.RemoveAll(layersDir) })
	v, err := newArchiveImage(a, src, o.cache, layersDir)
	if err != nil {
		img.Close()
		return nil, fmt.Errorf("%s: %w", img.Source, err)
	}
	img.V1 = v
	return img, nil
}

// openStream runs a streamLayeredImage script and reads the archive it writes to stdout.
func openStream(ctx context.Context, script string, o *options) (*Image, error) {
	img := &Image{Source: script, Kind: FromStream}
	img.raw = func(ctx context.Context) (io.ReadCloser, error) {
		out, err := RunStream(ctx, script)
		if err != nil {
			return nil, err
		}
		return guardTar(out), nil
	}
	if o.lazy {
		return img, nil
	}
	out, err := RunStream(ctx, script)
	if err != nil {
		return nil, err
	}
	var res *Image
	if o.layers {
		res, err = readKept(ctx, img, out, o)
	} else {
		var a *Archive
		if a, err = ReadArchive(ctx, out); err == nil {
			img.Archive, res = a, img
		}
	}
	// A script that failed explains itself better than the archive it cut short.
	if werr := out.Close(); werr != nil {
		if res != nil {
			res.Close()
		}
		return nil, werr
	}
	if err != nil {
		return nil, fmt.Errorf("stream script %s: %w", script, err)
	}
	return res, nil
}

// openEngine saves an image from the Docker engine (by name or ID) and reads the archive.
func openEngine(ctx context.Context, ref string, o *options) (*Image, error) {
	if o.engine == nil {
		return nil, fmt.Errorf("image %s is in the Docker engine, and no engine was given", ref)
	}
	held, err := o.engine.ImageInspect(ctx, ref)
	if errors.Is(err, engine.ErrNotFound) {
		return nil, fmt.Errorf("no image %q: not a file, and the Docker engine has no such image: %w", ref, err)
	}
	if err != nil {
		return nil, err
	}
	img := &Image{Source: ref, Kind: FromEngine, configDigest: held.ID, arch: held.Architecture, Tags: held.RepoTags}
	if o.lazy {
		return img, nil
	}
	rc, err := o.engine.ImageSave(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("save %s from the Docker engine: %w", ref, err)
	}
	defer rc.Close()
	if o.layers {
		return readKept(ctx, img, rc, o)
	}
	a, err := ReadArchive(ctx, rc)
	if err != nil {
		return nil, fmt.Errorf("image %s from the Docker engine: %w", ref, err)
	}
	img.Archive = a
	return img, nil
}
