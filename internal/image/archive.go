// Package image is nixify's one image abstraction. Every source of an image (the last build, a
// docker-archive tarball plain or compressed, a stream script's output, an image in the Docker
// engine, a registry reference or multi-arch index) is opened into go-containerregistry's v1.Image
// or v1.ImageIndex, with the metadata `nixify info` shows, and every consumer (info, push) reads it
// from here. Archives are scanned once, as a stream, and layers are never held in memory.
package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
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
}

const (
	maxJSON    = 8 << 20 // manifest.json and configs are kilobytes; a bigger JSON file is not one of them
	sniffBytes = 4
)

// ErrNotArchive means the stream is a valid tar (or empty) but not a docker-archive.
var ErrNotArchive = errors.New("not a docker-archive")

// ReadArchiveFile reads the docker-archive at path (plain, gzip or zstd).
func ReadArchiveFile(p string) (*Archive, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("read image archive: %w", err)
	}
	defer f.Close()
	a, err := ReadArchive(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return a, nil
}

// ReadArchive scans a docker-archive stream (plain, gzip or zstd, detected by magic number) once.
// manifest.json and the configs may come before or after the layers: nixpkgs' streamLayeredImage
// writes them last. Layers are hashed as they stream past and never kept.
func ReadArchive(r io.Reader) (*Archive, error) {
	a, err := scan(r, nil)
	if err != nil {
		return nil, fmt.Errorf("read image archive: %w", err)
	}
	return a, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// scan reads the archive once; when tee is set, the uncompressed tar stream is copied to it, so that
// layers can later be read by offset from the copy.
func scan(r io.Reader, tee io.Writer) (*Archive, error) {
	src := &countingReader{r: r}
	dec, comp, closeDec, err := decompress(src)
	if err != nil {
		return nil, err
	}
	defer closeDec()
	if tee != nil {
		dec = io.TeeReader(dec, tee)
	}
	// The tar reader reads headers exactly, so the count after Next is the offset of the file's data.
	tarStream := &countingReader{r: dec}
	tr := tar.NewReader(tarStream)

	a := &Archive{Compression: comp, files: map[string]fileEntry{}}
	jsonFiles := map[string][]byte{}
	links := map[string]string{}
	var manifest []byte
	h := sha256.New()
	buf := make([]byte, 1<<16)
	var dataEnd int64 // where the last entry's padded data ends in the tar stream
	for {
		hdr, err := tr.Next()
		if len(a.files) == 0 && tarStream.n < 512 && (err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)) {
			return nil, fmt.Errorf("%w: the stream holds %d bytes, less than one tar header", ErrNotArchive, src.n)
		}
		if err == io.EOF {
			// Go's tar reader also reports a stream cut between two entries as a clean end; only the
			// two zero blocks of the end marker tell that nothing is missing.
			if tarStream.n < dataEnd+1024 {
				return nil, fmt.Errorf("truncated archive: the tar end marker is missing after %d bytes", src.n)
			}
			break
		}
		if err != nil {
			return nil, streamError(err, comp, src.n)
		}
		name := cleanName(hdr.Name)
		dataEnd = tarStream.n + (hdr.Size+511)/512*512
		switch hdr.Typeflag {
		case tar.TypeSymlink:
			links[name] = path.Join(path.Dir(name), hdr.Linkname)
			continue
		case tar.TypeLink:
			links[name] = cleanName(hdr.Linkname)
			continue
		case tar.TypeReg: // the reader already maps the old TypeRegA to TypeReg
		default:
			continue
		}
		if hdr.Size < 0 {
			return nil, fmt.Errorf("corrupt archive: %s has a negative size", name)
		}
		e := fileEntry{offset: tarStream.n, size: hdr.Size}
		// Small files that look like JSON are kept: they may be manifest.json or a config, whose
		// names are known only once manifest.json has been read.
		var keep *bytes.Buffer
		h.Reset()
		var head []byte
		for n := int64(0); ; {
			k, rerr := tr.Read(buf)
			if k > 0 {
				if n == 0 {
					head = append([]byte(nil), buf[:min(k, sniffBytes)]...)
					if (head[0] == '{' || head[0] == '[') && hdr.Size <= maxJSON {
						keep = bytes.NewBuffer(make([]byte, 0, hdr.Size))
					}
				}
				h.Write(buf[:k])
				if keep != nil {
					keep.Write(buf[:k])
				}
				n += int64(k)
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return nil, streamError(rerr, comp, src.n)
			}
		}
		e.digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
		e.compression = detectCompression(head)
		a.files[name] = e
		if keep != nil {
			if name == "manifest.json" {
				manifest = keep.Bytes()
			} else {
				jsonFiles[name] = keep.Bytes()
			}
		}
	}
	// Drain what follows the tar's end marker so that a compressed stream's checksum is verified.
	if _, err := io.Copy(io.Discard, dec); err != nil {
		return nil, streamError(err, comp, src.n)
	}
	a.ReadBytes, a.TarBytes = src.n, tarStream.n
	resolve := func(name string) string {
		for i := 0; i < 8; i++ { // links to links, bounded against loops
			t, ok := links[name]
			if !ok {
				return name
			}
			name = t
		}
		return name
	}
	if manifest == nil {
		if m, ok := jsonFiles[resolve("manifest.json")]; ok {
			manifest = m
		} else {
			return nil, fmt.Errorf("%w: it has no manifest.json (%d files read)", ErrNotArchive, len(a.files))
		}
	}
	if err := json.Unmarshal(manifest, &a.Manifest); err != nil {
		return nil, fmt.Errorf("corrupt archive: manifest.json: %v", err)
	}
	if len(a.Manifest) == 0 {
		return nil, fmt.Errorf("%w: manifest.json lists no image", ErrNotArchive)
	}
	m := a.Manifest[0]
	cfgName := resolve(cleanName(m.Config))
	cfg, ok := jsonFiles[cfgName]
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
		name := resolve(cleanName(lp))
		f, ok := a.files[name]
		if !ok {
			return nil, fmt.Errorf("corrupt archive: layer %q named in manifest.json is missing", lp)
		}
		l := Layer{Path: name, Size: f.size, Digest: f.digest, DiffID: conf.RootFS.DiffIDs[i], Compression: f.compression}
		if l.Compression == Uncompressed && l.DiffID != l.Digest {
			return nil, fmt.Errorf("corrupt archive: layer %s has digest %s but the config expects %s", lp, l.Digest, l.DiffID)
		}
		a.Layers = append(a.Layers, l)
	}
	return a, nil
}

func cleanName(n string) string {
	n = path.Clean("/" + n)
	return strings.TrimPrefix(n, "/")
}

// streamError turns the tar and decompressor errors into one line that says what is wrong.
func streamError(err error, comp Compression, at int64) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("truncated archive: the data ends after %d bytes", at)
	}
	what := "tar"
	if comp != Uncompressed {
		what = string(comp) + " tar"
	}
	return fmt.Errorf("corrupt archive (not a valid %s stream after %d bytes): %v", what, at, err)
}

// LayerSize is the sum of the layers' stored sizes.
func (a *Archive) LayerSize() int64 {
	var n int64
	for _, l := range a.Layers {
		n += l.Size
	}
	return n
}
