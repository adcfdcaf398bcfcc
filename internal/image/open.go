package image

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/authn/github"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/record"
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
	Source string    `json:"source"` // what was opened, as the user would name it
	Kind   Kind      `json:"kind"`
	Arch   arch.Arch `json:"filedUnder,omitempty"` // the architecture it is filed under (x86_64/aarch64), if any

	// Image is the image itself. For archives it is nil unless WithLayers was given: metadata needs
	// only the archive's headers and config.
	Image   v1.Image       `json:"-"`
	Archive *Archive       `json:"-"` // for build, archive, stream and engine sources
	Entry   *v1.Descriptor `json:"-"` // the index entry, for an image reached through an index
	Build   *record.Build  `json:"-"`

	closers []func()
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
	layers   bool
	tmpDir   string
	cache    *LayerCache
	keychain authn.Keychain
	auth     authn.Authenticator
	rt       http.RoundTripper
	engine   engine.Images
}

// Option changes how an image is opened.
type Option func(*options)

// WithLayers makes archive sources readable layer by layer (for push): compressed archives and
// streams are then decompressed once into a temporary file.
func WithLayers() Option { return func(o *options) { o.layers = true } }

// WithTempDir sets where temporary copies go (default os.TempDir()).
func WithTempDir(dir string) Option { return func(o *options) { o.tmpDir = dir } }

// WithLayerCache remembers compressed layer digests across runs.
func WithLayerCache(c *LayerCache) Option { return func(o *options) { o.cache = c } }

// WithKeychain sets how registry credentials are found (default: GitHub token, then docker config).
func WithKeychain(k authn.Keychain) Option { return func(o *options) { o.keychain = k } }

// WithAuth uses fixed credentials for the registry.
func WithAuth(a authn.Authenticator) Option { return func(o *options) { o.auth = a } }

// WithTransport sets the HTTP transport for registries.
func WithTransport(rt http.RoundTripper) Option { return func(o *options) { o.rt = rt } }

// WithEngine lets references name images in the Docker engine.
func WithEngine(e engine.Images) Option { return func(o *options) { o.engine = e } }

func collect(opts []Option) *options {
	o := &options{keychain: DefaultKeychain()}
	for _, f := range opts {
		f(o)
	}
	return o
}

// DefaultKeychain tries GITHUB_TOKEN first (for ghcr.io), then docker config and credential helpers,
// so that a broken credential helper does not stop CI, which has the token.
func DefaultKeychain() authn.Keychain {
	return authn.NewMultiKeychain(github.Keychain, authn.DefaultKeychain)
}

// RemoteOptions are the go-containerregistry options for a registry call with these settings.
func (o *options) remote(ctx context.Context) []remote.Option {
	ro := []remote.Option{remote.WithContext(ctx)}
	if o.auth != nil {
		ro = append(ro, remote.WithAuth(o.auth))
	} else {
		ro = append(ro, remote.WithAuthFromKeychain(o.keychain))
	}
	if o.rt != nil {
		ro = append(ro, remote.WithTransport(o.rt))
	}
	return ro
}

// OpenBuild opens an architecture's last build.
func OpenBuild(ctx context.Context, b record.Build, opts ...Option) (*Image, error) {
	var img *Image
	var err error
	switch b.Kind {
	case record.Stream:
		img, err = OpenStream(ctx, b.OutPath, opts...)
	default:
		img, err = OpenArchiveFile(b.OutPath, opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("last %s build: %w", b.Arch, err)
	}
	img.Kind, img.Arch, img.Build = FromBuild, b.Arch, &b
	img.Source = fmt.Sprintf("last build (%s): %s", b.Arch, b.OutPath)
	return img, nil
}

// OpenArchiveFile opens a docker-archive file, plain, gzip or zstd.
func OpenArchiveFile(p string, opts ...Option) (*Image, error) {
	o := collect(opts)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open image archive: %w", err)
	}
	defer f.Close()
	head := make([]byte, sniffBytes)
	n, _ := io.ReadFull(f, head)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("open image archive: %w", err)
	}
	img := &Image{Source: p, Kind: FromArchive}
	if !o.layers {
		a, err := ReadArchive(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		img.Archive = a
		return img, nil
	}
	if detectCompression(head[:n]) == Uncompressed {
		// The file itself serves layers by offset.
		a, err := ReadArchive(bufio.NewReaderSize(f, 1<<20))
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
	return readKept(img, f, o)
}

// readKept scans r while keeping its uncompressed tar stream in a temporary file.
func readKept(img *Image, r io.Reader, o *options) (*Image, error) {
	tmp, err := os.CreateTemp(o.tmpDir, "nixify-image-*.tar")
	if err != nil {
		return nil, fmt.Errorf("keep image archive: %w", err)
	}
	img.closers = append(img.closers, func() { tmp.Close(); os.Remove(tmp.Name()) })
	bw := bufio.NewWriterSize(tmp, 1<<20)
	a, err := scan(r, bw)
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
	dir := o.tmpDir
	layersDir, err := os.MkdirTemp(dir, "nixify-layers-*")
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
	img.Image = v
	return img, nil
}

// OpenStream runs a streamLayeredImage script and reads the archive it writes to stdout.
func OpenStream(ctx context.Context, script string, opts ...Option) (*Image, error) {
	o := collect(opts)
	cmd := exec.CommandContext(ctx, script)
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run stream script %s: %w", script, err)
	}
	img := &Image{Source: script, Kind: FromStream}
	var a *Archive
	var res *Image
	if o.layers {
		res, err = readKept(img, out, o)
	} else {
		a, err = ReadArchive(out)
		if err == nil {
			img.Archive, res = a, img
		}
	}
	io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if werr != nil {
		if res != nil {
			res.Close()
		}
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return nil, fmt.Errorf("stream script %s failed: %v: %s", script, werr, msg)
	}
	if err != nil {
		return nil, fmt.Errorf("stream script %s: %w", script, err)
	}
	return res, nil
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// OpenEngine saves an image from the Docker engine (by name or ID) and reads the archive.
func OpenEngine(ctx context.Context, e engine.Images, ref string, opts ...Option) (*Image, error) {
	o := collect(opts)
	rc, err := e.ImageSave(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("save %s from the Docker engine: %w", ref, err)
	}
	defer rc.Close()
	img := &Image{Source: ref, Kind: FromEngine}
	if o.layers {
		return readKept(img, rc, o)
	}
	a, err := ReadArchive(rc)
	if err != nil {
		return nil, fmt.Errorf("image %s from the Docker engine: %w", ref, err)
	}
	img.Archive = a
	return img, nil
}

// OpenRemote reads a registry reference: an image, or an index and each of its images. Only
// manifests and configs are fetched.
func OpenRemote(ctx context.Context, ref string, opts ...Option) (*Set, error) {
	o := collect(opts)
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	ro := o.remote(ctx)
	desc, err := remote.Get(r, ro...)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", ref, err)
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("read index %s: %w", ref, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("read index %s: %w", ref, err)
		}
		s := &Set{Index: &Index{Ref: ref, Digest: desc.Digest.String(), MediaType: string(desc.MediaType), Size: desc.Size, Annotations: im.Annotations, Index: idx}}
		for i := range im.Manifests {
			d := im.Manifests[i]
			if !d.MediaType.IsImage() {
				continue // attestations and nested indexes
			}
			child, err := idx.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("read %s@%s: %w", r.Context(), d.Digest, err)
			}
			img := &Image{Source: r.Context().Digest(d.Digest.String()).String(), Kind: FromRegistry, Image: child, Entry: &d}
			if d.Platform != nil {
				img.Arch = arch.FromOCI(d.Platform.Architecture)
			}
			s.Images = append(s.Images, img)
		}
		return s, nil
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ref, err)
	}
	return &Set{Images: []*Image{{Source: ref, Kind: FromRegistry, Image: img}}}, nil
}

// LooksRemote reports whether ref names a registry (its first part is a host: it has a dot or a
// port, or is localhost), as opposed to a name the Docker engine holds.
func LooksRemote(ref string) bool {
	first, _, ok := strings.Cut(ref, "/")
	if !ok {
		return false
	}
	return strings.ContainsAny(first, ".:") || first == "localhost"
}

// ErrUnknownSource means a reference is neither a file, nor in the engine, nor a registry name.
var ErrUnknownSource = errors.New("no such image")
