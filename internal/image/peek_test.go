package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeArchive(t *testing.T, path, config string, gz bool) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tw *tar.Writer
	if gz {
		zw := gzip.NewWriter(f)
		defer zw.Close()
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(f)
	}
	layer := strings.Repeat("x", 1<<20)
	tw.WriteHeader(&tar.Header{Name: "abc/layer.tar", Mode: 0o644, Size: int64(len(layer))})
	tw.Write([]byte(layer))
	m := `[{"Config":"` + config + `","RepoTags":["x:y"],"Layers":["abc/layer.tar"]}]`
	tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o644, Size: int64(len(m))})
	tw.Write([]byte(m))
	tw.Close()
}

func TestPeekConfigDigest(t *testing.T) {
	dir := t.TempDir()
	hex := strings.Repeat("ab", 32)
	for _, c := range []struct {
		name, config string
		gz           bool
		want         string
	}{
		{"classic", hex + ".json", false, "sha256:" + hex},
		{"oci-shaped", "blobs/sha256/" + hex, false, "sha256:" + hex},
		{"ggcr", "sha256:" + hex, false, "sha256:" + hex},
		{"gzip", hex + ".json", true, "sha256:" + hex},
		{"nonsense", "config.json", false, ""},
	} {
		p := filepath.Join(dir, c.name+".tar")
		writeArchive(t, p, c.config, c.gz)
		if got := peekFile(p); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func peekFile(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	pk, err := peek(context.Background(), f)
	if err != nil {
		return ""
	}
	return pk.configDigest
}

// TestNoStorePathIsAWarning: an image whose layers hold no Nix store path says so.
func TestNoStorePathIsAWarning(t *testing.T) {
	var layer bytes.Buffer
	lt := tar.NewWriter(&layer)
	lt.WriteHeader(&tar.Header{Name: "etc/hostname", Mode: 0o644, Size: 2})
	lt.Write([]byte("x\n"))
	lt.Close()
	sum := sha256.Sum256(layer.Bytes())
	cfg := fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%x"]}}`, sum)
	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	for _, f := range []struct{ name, data string }{{"l/layer.tar", layer.String()}, {"c.json", cfg}, {"manifest.json", `[{"Config":"c.json","Layers":["l/layer.tar"]}]`}} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data))})
		tw.Write([]byte(f.data))
	}
	tw.Close()
	a, err := ReadArchive(context.Background(), &archive)
	if err != nil {
		t.Fatal(err)
	}
	info, err := Describe(&Image{Source: "x", Archive: a})
	if err != nil || !slices.ContainsFunc(info.Warnings, func(w string) bool { return strings.Contains(w, "no Nix store path") }) {
		t.Errorf("warnings %q, %v", info.Warnings, err)
	}
}
