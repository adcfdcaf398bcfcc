// Package image is nixify's one image abstraction. Every source of an image (the last build, a
// docker-archive tarball plain or compressed, a stream script's output, an image in the Docker
// engine, a registry reference or multi-arch index) is opened into go-containerregistry's v1.Image
// or v1.ImageIndex, with the metadata `nixify info` shows, and every consumer (info, push) reads it
// from here. Archives are scanned once, as a stream, and layers are never held in memory.
package image

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"
	"sync"
)

// ManifestEntry is one image of a docker-archive's manifest.json.
type ManifestEntry struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// Layer is one layer file of an archive, in the order the image stacks them.
type Layer struct {
	Path        string      `json:"path"`
	Size        int64       `json:"size"`        // bytes of the file in the archive
	Digest      string      `json:"digest"`      // sha256 of the file as stored
	DiffID      string      `json:"diffId"`      // sha256 of the uncompressed layer, from the config
	Compression Compression `json:"compression"` // how the file is stored; nixpkgs stores tar
	StorePaths  []string    `json:"storePaths"`  // the Nix store paths it holds (plain layer tars only)
}

// Archive is what one scan of a docker-archive found. It describes the archive's first image, which
// is the only one in archives written by Nix and by nixify.
type Archive struct {
	Compression Compression     `json:"compression"` // of the archive itself
	ReadBytes   int64           `json:"readBytes"`   // bytes read from the source (compressed size)
	TarBytes    int64           `json:"tarBytes"`    // bytes of the uncompressed tar stream
	Manifest    []ManifestEntry `json:"manifest"`

	Config       []byte   `json:"-"`
	ConfigDigest string   `json:"configDigest"` // sha256:... of Config: the engine's image ID
	RepoTags     []string `json:"repoTags"`
	Layers       []Layer  `json:"layers"`

	files map[string]fileEntry
}

// fileEntry is where a regular file's bytes sit in the uncompressed tar stream, so an archive kept
// uncompressed on disk can serve any layer by offset without another scan.
type fileEntry struct {
	offset, size int64
	digest       string
	compression  Compression
	storePaths   []string // the Nix store paths a layer tar holds
}

const (
	maxJSON    = 8 << 20 // manifest.json and configs are kilobytes; a bigger JSON file is not one of them
	sniffBytes = 4
)

// ErrNotArchive means the stream is a valid tar (or empty) but not a docker-archive.
var ErrNotArchive = errors.New("not a docker-archive")

// ReadArchive scans a docker-archive stream (plain, gzip or zstd, detected by magic number) once.
// manifest.json and the configs may come before or after the layers: nixpkgs' streamLayeredImage
// writes them last. Layers are hashed as they stream past and never kept. Cancelling ctx stops it.
func ReadArchive(ctx context.Context, r io.Reader) (*Archive, error) {
	a, err := scan(ctx, r, nil, false)
	if err != nil {
		return nil, fmt.Errorf("read image archive: %w", err)
	}
	return a, nil
}

// countingReader counts what passes; it stops with ctx's error once ctx is done.
type countingReader struct {
	ctx context.Context
	r   io.Reader
	n   int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Seek lets tar skip a plain file's data instead of reading it, when the source can seek.
func (c *countingReader) Seek(off int64, whence int) (int64, error) {
	s, ok := c.r.(io.Seeker)
	if !ok {
		return 0, errors.ErrUnsupported
	}
	n, err := s.Seek(off, whence)
	if err == nil {
		c.n = n
	}
	return n, err
}

// bufPool keeps the read buffers of finished scans: a small archive (a fuzzing input, a config)
// would otherwise spend most of its time clearing a fresh 64 KiB buffer.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 1<<16); return &b }}

// scanner is one pass over an archive's tar stream.
type scanner struct {
	ctx       context.Context
	src       *countingReader // the source as read (compressed)
	tarStream *countingReader // the tar stream: after Next, its count is the file's data offset
	tr        *tar.Reader
	comp      Compression
	a         *Archive
	jsonFiles map[string][]byte
	links     map[string]string
	manifest  []byte
	h         hash.Hash
	buf       []byte
	br        *bufio.Reader
	headers   bool
}

// scan reads the archive once; when tee is set, the uncompressed tar stream is copied to it, so that
// layers can later be read by offset from the copy. With headers, it reads only what an engine
// must be checked for before it is handed the archive: the tar headers (a sparse entry is refused)
// and the small JSON files; layers are neither hashed nor read for store paths, and a plain file's
// are skipped by seeking.
func scan(ctx context.Context, r io.Reader, tee io.Writer, headers bool) (*Archive, error) {
	src := &countingReader{ctx: ctx, r: r}
	dec, comp, closeDec, err := decompress(src)
	if err != nil {
		return nil, err
	}
	defer closeDec()
	if rs, ok := r.(io.ReadSeeker); ok && headers && comp == Uncompressed {
		if _, err := rs.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		dec = rs
	}
	if tee != nil {
		dec = io.TeeReader(dec, tee)
	}
	s := &scanner{ctx: ctx, src: src, tarStream: &countingReader{ctx: ctx, r: dec}, comp: comp, headers: headers,
		a: &Archive{Compression: comp, files: map[string]fileEntry{}}, jsonFiles: map[string][]byte{},
		links: map[string]string{}, h: sha256.New()}
	buf := bufPool.Get().(*[]byte)
	defer bufPool.Put(buf)
	s.buf = *buf
	s.br = bufio.NewReaderSize(nil, 1<<16)
	s.tr = tar.NewReader(s.tarStream)
	if err := s.entries(); err != nil {
		return nil, err
	}
	// Drain what follows the tar's end marker so that a compressed stream's checksum is verified.
	if _, err := io.Copy(io.Discard, dec); err != nil {
		return nil, s.streamError(err)
	}
	s.a.ReadBytes, s.a.TarBytes = src.n, s.tarStream.n
	return s.assemble()
}

// entries reads every tar entry: regular files are hashed, links remembered, the rest skipped.
func (s *scanner) entries() error {
	var dataEnd int64 // where the last entry's padded data ends in the tar stream
	for {
		hdr, err := s.tr.Next()
		if len(s.a.files) == 0 && s.tarStream.n < 512 && (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)) {
			return fmt.Errorf("%w: the stream holds %d bytes, less than one tar header", ErrNotArchive, s.src.n)
		}
		if err == io.EOF {
			// Go's tar reader also reports a stream cut between two entries as a clean end; only the
			// two zero blocks of the end marker tell that nothing is missing.
			if s.tarStream.n < dataEnd+1024 {
				return fmt.Errorf("truncated archive: the tar end marker is missing after %d bytes", s.src.n)
			}
			return nil
		}
		if err != nil {
			return s.streamError(err)
		}
		name := cleanName(hdr.Name)
		dataEnd = s.tarStream.n + (hdr.Size+511)/512*512
		switch {
		case hdr.Typeflag == tar.TypeSymlink:
			s.links[name] = path.Join(path.Dir(name), hdr.Linkname)
		case hdr.Typeflag == tar.TypeLink:
			s.links[name] = cleanName(hdr.Linkname)
		case sparse(hdr) && s.headers:
			return fmt.Errorf("%w (%s claims %d bytes): not a docker-archive", ErrSparse, hdr.Name, hdr.Size)
		case sparse(hdr):
			// A sparse file's size is what it claims once its holes are filled (10^15 bytes of
			// zeros in a 227-byte archive); docker-archives never hold one. Skipping reads only
			// the bytes the archive holds.
			dataEnd = s.tarStream.n
		case hdr.Typeflag == tar.TypeReg: // the reader already maps the old TypeRegA to TypeReg
			if err := s.readFile(hdr, name); err != nil {
				return err
			}
		}
	}
}

// sparse reports a GNU sparse entry, in its old form or as PAX records.
func sparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// readFile hashes one regular file as it streams past and keeps it when it may be JSON: it may be
// manifest.json or a config, whose names are known only once manifest.json has been read. A file
// that is itself a tar (a layer) is read as one on the way, for the store paths it holds.
func (s *scanner) readFile(hdr *tar.Header, name string) error {
	if hdr.Size < 0 {
		return fmt.Errorf("corrupt archive: %s has a negative size", name)
	}
	e := fileEntry{offset: s.tarStream.n, size: hdr.Size}
	s.h.Reset()
	s.br.Reset(io.TeeReader(s.tr, s.h))
	head, _ := s.br.Peek(512)
	e.compression = detectCompression(head)
	var err error
	switch {
	case len(head) > 0 && (head[0] == '{' || head[0] == '[') && hdr.Size <= maxJSON:
		var data []byte
		if data, err = io.ReadAll(s.br); err == nil {
			if name == "manifest.json" {
				s.manifest = data
			} else {
				s.jsonFiles[name] = data
			}
		}
	case s.headers:
		s.a.files[name] = e // tar skips the rest
		return nil
	case isTar(head):
		e.storePaths = storePathsIn(s.ctx, tar.NewReader(s.br))
		_, err = io.CopyBuffer(io.Discard, s.br, s.buf)
	default:
		_, err = io.CopyBuffer(io.Discard, s.br, s.buf)
	}
	if err != nil {
		return s.streamError(err)
	}
	if err := s.ctx.Err(); err != nil {
		return err
	}
	e.digest = "sha256:" + hex.EncodeToString(s.h.Sum(nil))
	s.a.files[name] = e
	return nil
}

// isTar reports a tar header block: POSIX and GNU tars carry "ustar" at offset 257.
func isTar(head []byte) bool {
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

// storePathsIn lists the Nix store paths a layer holds (its nix/store/<hash>-<name> entries), in
// the order they come. A layer that stops being a valid tar keeps what was found before.
func storePathsIn(ctx context.Context, tr *tar.Reader) []string {
	var out []string
	seen := map[string]bool{}
	for ctx.Err() == nil {
		h, err := tr.Next()
		if err != nil {
			return out
		}
		rest, ok := strings.CutPrefix(cleanName(h.Name), "nix/store/")
		if !ok {
			continue
		}
		top, _, _ := strings.Cut(rest, "/")
		if p := "/nix/store/" + top; !seen[p] && storePathRE.MatchString(p) {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// resolve follows links to links, bounded against loops.
func (s *scanner) resolve(name string) string {
	for i := 0; i < 8; i++ {
		t, ok := s.links[name]
		if !ok {
			return name
		}
		name = t
	}
	return name
}

// assemble reads manifest.json, then the config it names, then checks every layer it lists.
func (s *scanner) assemble() (*Archive, error) {
	a := s.a
	if s.manifest == nil {
		m, ok := s.jsonFiles[s.resolve("manifest.json")]
		if !ok {
			return nil, fmt.Errorf("%w: it has no manifest.json (files read: %d)", ErrNotArchive, len(a.files))
		}
		s.manifest = m
	}
	if err := json.Unmarshal(s.manifest, &a.Manifest); err != nil {
		return nil, fmt.Errorf("corrupt archive: manifest.json: %v", err)
	}
	if len(a.Manifest) == 0 {
		return nil, fmt.Errorf("%w: manifest.json lists no image", ErrNotArchive)
	}
	m := a.Manifest[0]
	cfg, ok := s.jsonFiles[s.resolve(cleanName(m.Config))]
	if !ok {
		return nil, fmt.Errorf("corrupt archive: config %q named in manifest.json is missing", m.Config)
	}
	a.Config = cfg
	sum := sha256.Sum256(cfg)
	a.ConfigDigest = "sha256:" + hex.EncodeToString(sum[:])
	a.RepoTags = m.RepoTags
	var conf struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(cfg, &conf); err != nil {
		return nil, fmt.Errorf("corrupt archive: config %s: %v", m.Config, err)
	}
	if len(conf.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("corrupt archive: manifest.json lists %d layers but the config has %d diff_ids", len(m.Layers), len(conf.RootFS.DiffIDs))
	}
	for i, lp := range m.Layers {
		name := s.resolve(cleanName(lp))
		f, ok := a.files[name]
		if !ok {
			return nil, fmt.Errorf("corrupt archive: layer %q named in manifest.json is missing", lp)
		}
		l := Layer{Path: name, Size: f.size, Digest: f.digest, DiffID: conf.RootFS.DiffIDs[i], Compression: f.compression, StorePaths: f.storePaths}
		if l.Compression == Uncompressed && l.DiffID != l.Digest && !s.headers {
			return nil, fmt.Errorf("corrupt archive: layer %s has digest %s but the config expects %s", lp, l.Digest, l.DiffID)
		}
		a.Layers = append(a.Layers, l)
	}
	return a, nil
}

// ErrSparse means an archive holds a sparse file: its declared size is what it claims once its
// holes are filled, not what the archive holds, and an engine unpacking it writes that many zeros.
var ErrSparse = errors.New("holds a sparse file")

func cleanName(n string) string {
	n = path.Clean("/" + n)
	return strings.TrimPrefix(n, "/")
}

// streamError turns the tar and decompressor errors into one line that says what is wrong.
func (s *scanner) streamError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("truncated archive: the data ends after %d bytes", s.src.n)
	}
	what := "tar"
	if s.comp != Uncompressed {
		what = string(s.comp) + " tar"
	}
	return fmt.Errorf("corrupt archive (not a valid %s stream after %d bytes): %v", what, s.src.n, err)
}

// LayerSize is the sum of the layers' stored sizes.
func (a *Archive) LayerSize() int64 {
	var n int64
	for _, l := range a.Layers {
		n += l.Size
	}
	return n
}
