package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
)

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
