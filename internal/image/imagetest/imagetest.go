// Package imagetest writes small docker-archives shaped like the ones nixpkgs' dockerTools writes
// (one uncompressed layer.tar per store path, the config and manifest.json last, history that names
// the store paths), for tests and benchmarks of nixify's image code. The images are synthetic: their
// layers hold random bytes under /nix/store, nothing runnable.
package imagetest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Spec describes a synthetic image.
type Spec struct {
	Arch      string            // GOARCH spelling written in the config: amd64 or arm64 (default amd64)
	Layers    int               // number of store-path layers (default 3)
	LayerSize int               // random bytes per layer (default 4 KiB)
	Seed      uint64            // same seed, same bytes
	RepoTag   string            // default nixify-health-check:latest
	Labels    map[string]string // image labels
	Created   time.Time         // zero means nixpkgs' default, 1970-01-01T00:00:01Z
	Compress  string            // "", "gzip" or "zstd": how the whole archive is compressed
	Healthy   bool              // add a HEALTHCHECK
	Names     []string          // store path names, one layer each (e.g. libfoo-1.0); default pkg-N
	NoHistory bool              // no history naming the store paths, as images not made by dockerTools
}

// StorePath returns the fake store path of layer i of a seed.
func StorePath(seed uint64, i int) string { return namedStorePath(seed, i, fmt.Sprintf("pkg-%d", i)) }

func namedStorePath(seed uint64, i int, name string) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%d/%d/%s", seed, i, name)))
	const alphabet = "0123456789abcdfghijklmnpqrsvwxyz" // Nix's base32
	b := make([]byte, 32)
	for k := range b {
		b[k] = alphabet[h[k]%32]
	}
	return fmt.Sprintf("/nix/store/%s-%s", b, name)
}

// Written is what WriteArchive wrote.
type Written struct {
	ConfigDigest string
	DiffIDs      []string
	StorePaths   []string
	Config       []byte
}

// WriteFile writes the archive to path and returns what it holds.
func WriteFile(path string, s Spec) (*Written, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w, err := WriteArchive(f, s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return w, err
}

// WriteArchive writes a docker-archive in nixpkgs' order: layers, then config, then manifest.json.
func WriteArchive(out io.Writer, s Spec) (*Written, error) {
	s = s.withDefaults()
	w, closer, err := compressor(out, s.Compress)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(w)
	rng := rand.New(rand.NewPCG(s.Seed, 7))
	res := &Written{}
	var layerNames []string
	var history []map[string]string
	for i := 0; i < s.Layers; i++ {
		sp := StorePath(s.Seed, i)
		if i < len(s.Names) {
			sp = namedStorePath(s.Seed, i, s.Names[i])
		}
		layer := storeLayer(rng, sp, s.LayerSize)
		sum := sha256.Sum256(layer)
		hexSum := hex.EncodeToString(sum[:])
		name := hexSum + "/layer.tar"
		if err := writeFile(tw, name, layer); err != nil {
			return nil, err
		}
		layerNames = append(layerNames, name)
		res.DiffIDs = append(res.DiffIDs, "sha256:"+hexSum)
		res.StorePaths = append(res.StorePaths, sp)
		h := map[string]string{"created": s.Created.Format(time.RFC3339)}
		// nixpkgs has written the store paths both as a comment and as created_by over the years.
		if i%2 == 0 {
			h["comment"] = fmt.Sprintf("store paths: ['%s']", sp)
		} else {
			h["created_by"] = fmt.Sprintf("store paths: ['%s']", sp)
		}
		if !s.NoHistory {
			history = append(history, h)
		}
	}
	cfgBytes, err := configJSON(s, res.DiffIDs, history)
	if err != nil {
		return nil, err
	}
	cs := sha256.Sum256(cfgBytes)
	cfgName := hex.EncodeToString(cs[:]) + ".json"
	if err := writeFile(tw, cfgName, cfgBytes); err != nil {
		return nil, err
	}
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{s.RepoTag}, "Layers": layerNames}})
	if err := writeFile(tw, "manifest.json", manifest); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if closer != nil {
		if err := closer.Close(); err != nil {
			return nil, err
		}
	}
	res.ConfigDigest = "sha256:" + hex.EncodeToString(cs[:])
	res.Config = cfgBytes
	return res, nil
}

// withDefaults fills what the test left out: a small amd64 image of three layers dated 1970, as Nix
// writes them.
func (s Spec) withDefaults() Spec {
	if s.Arch == "" {
		s.Arch = "amd64"
	}
	if s.Layers == 0 && len(s.Names) > 0 {
		s.Layers = len(s.Names)
	}
	if s.Layers == 0 {
		s.Layers = 3
	}
	if s.LayerSize == 0 {
		s.LayerSize = 4 << 10
	}
	if s.RepoTag == "" {
		s.RepoTag = "nixify-health-check:latest"
	}
	if s.Created.IsZero() {
		s.Created = time.Date(1970, 1, 1, 0, 0, 1, 0, time.UTC)
	}
	return s
}

// compressor wraps out in the archive's compression ("", gzip or zstd); closer is nil for none.
func compressor(out io.Writer, kind string) (io.Writer, io.Closer, error) {
	switch kind {
	case "gzip":
		zw, _ := gzip.NewWriterLevel(out, gzip.BestSpeed)
		return zw, zw, nil
	case "zstd":
		zw, err := zstd.NewWriter(out, zstd.WithEncoderLevel(zstd.SpeedFastest))
		if err != nil {
			return nil, nil, err
		}
		return zw, zw, nil
	case "":
		return out, nil, nil
	}
	return nil, nil, fmt.Errorf("imagetest: unknown compression %q", kind)
}

// storeLayer is one layer as dockerTools writes it: a store path holding size bytes of the seed's
// pseudo-random data (incompressible, like real binaries).
func storeLayer(rng *rand.Rand, storePath string, size int) []byte {
	content := make([]byte, size)
	for k := 0; k+8 <= len(content); k += 8 {
		v := rng.Uint64()
		for j := 0; j < 8; j++ {
			content[k+j] = byte(v >> (8 * j))
		}
	}
	mtime := time.Unix(1, 0)
	var layer bytes.Buffer
	lt := tar.NewWriter(&layer)
	lt.WriteHeader(&tar.Header{Name: storePath[1:] + "/", Typeflag: tar.TypeDir, Mode: 0o555, ModTime: mtime})
	lt.WriteHeader(&tar.Header{Name: storePath[1:] + "/data", Typeflag: tar.TypeReg, Mode: 0o444, Size: int64(len(content)), ModTime: mtime})
	lt.Write(content)
	lt.Close()
	return layer.Bytes()
}

// configJSON is the image config nixify-init's images carry, with the spec's labels and platform.
func configJSON(s Spec, diffIDs []string, history []map[string]string) ([]byte, error) {
	config := map[string]any{
		"Entrypoint":   []string{"/bin/nixify-init"},
		"Env":          []string{"PATH=/bin", "PGDATA=/data/postgres"},
		"ExposedPorts": map[string]any{"8080/tcp": map[string]any{}},
		"Volumes":      map[string]any{"/data": map[string]any{}},
		"Labels":       s.Labels,
	}
	if s.Healthy {
		config["Healthcheck"] = map[string]any{"Test": []string{"CMD", "/bin/nixify-init", "healthcheck"}, "Interval": int64(30 * time.Second)}
	}
	return json.Marshal(map[string]any{
		"architecture": s.Arch,
		"os":           "linux",
		"created":      s.Created.Format(time.RFC3339),
		"config":       config,
		"rootfs":       map[string]any{"type": "layers", "diff_ids": diffIDs},
		"history":      history,
	})
}

func writeFile(tw *tar.Writer, name string, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o444, Size: int64(len(data)), ModTime: time.Unix(1, 0)}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}
