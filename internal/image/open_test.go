package image_test

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/image/imagetest"
	"github.com/nixify/nixify/internal/record"
)

func TestDescribeArchive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "img.tar.gz")
	w, err := imagetest.WriteFile(p, imagetest.Spec{Arch: "arm64", Layers: 3, Compress: "gzip", Healthy: true})
	if err != nil {
		t.Fatal(err)
	}
	img, err := imagetest.First(image.Open(context.Background(), image.BuildRef(record.Build{Arch: "x86_64", OutPath: p, Kind: record.Tarball})))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	info, err := image.Describe(img)
	if err != nil {
		t.Fatal(err)
	}
	if info.Architecture != "arm64" || info.OS != "linux" || info.ConfigDigest != w.ConfigDigest {
		t.Errorf("info = %+v", info)
	}
	if !info.CreatedDefault || info.Healthcheck == nil || len(info.Ports) != 1 || info.Ports[0] != "8080/tcp" || len(info.Volumes) != 1 {
		t.Errorf("created/healthcheck/ports/volumes wrong: %+v", info)
	}
	for i, l := range info.Layers {
		if len(l.StorePaths) != 1 || l.StorePaths[0] != w.StorePaths[i] {
			t.Errorf("layer %d store paths %v, want %s", i, l.StorePaths, w.StorePaths[i])
		}
	}
	joined := strings.Join(info.Warnings, "\n")
	if !strings.Contains(joined, `filed under x86_64 but its config says architecture "arm64"`) || !strings.Contains(joined, "missing OCI labels") {
		t.Errorf("warnings %q", joined)
	}
	if info.CompressedSize != info.ArchiveSize || info.UncompressedSize <= info.CompressedSize {
		t.Errorf("sizes: compressed %d archive %d uncompressed %d", info.CompressedSize, info.ArchiveSize, info.UncompressedSize)
	}
}

func TestOpenStreamScript(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "img.tar")
	w, err := imagetest.WriteFile(p, imagetest.Spec{Layers: 2})
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "stream")
	os.WriteFile(script, []byte("#!/bin/sh\nexec /bin/cat "+p+"\n"), 0o755)
	img, err := imagetest.First(image.Open(context.Background(), image.Ref{Kind: image.FromStream, Name: script}, image.WithTempDir(dir)))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if err := validate.Image(img.V1); err != nil {
		t.Errorf("image from stream does not validate: %v", err)
	}
	if img.ConfigDigest() != w.ConfigDigest {
		t.Errorf("config digest %s, want %s", img.ConfigDigest(), w.ConfigDigest)
	}
	if err := validate.Image(img.V1); err != nil {
		t.Errorf("image from stream does not validate: %v", err)
	}

	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("#!/bin/sh\necho 'error: builder failed' >&2\nexit 3\n"), 0o755)
	img, err = imagetest.First(image.Open(context.Background(), image.Ref{Kind: image.FromStream, Name: bad}))
	if err == nil {
		_, err = img.Scan() // the script runs when the image is read
	}
	if err == nil || !strings.Contains(err.Error(), "error: builder failed") {
		t.Errorf("failing script: %v", err)
	}
}

// TestArchiveImageRoundTrip pushes an archive opened with layers to go-containerregistry's
// in-process registry and reads it back: the config digest survives and the image validates.
func TestArchiveImageRoundTrip(t *testing.T) {
	for _, comp := range []string{"", "zstd"} {
		dir := t.TempDir()
		p := filepath.Join(dir, "img.tar")
		w, err := imagetest.WriteFile(p, imagetest.Spec{Layers: 3, LayerSize: 64 << 10, Compress: comp, Labels: map[string]string{"a": "b"}})
		if err != nil {
			t.Fatal(err)
		}
		cache := image.NewLayerCache(filepath.Join(dir, "cache"))
		img, err := imagetest.Open(p, image.WithTempDir(dir), image.WithLayerCache(cache))
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(img.V1); err != nil {
			t.Fatalf("validate: %v", err)
		}
		srv := httptest.NewServer(registry.New())
		ref, _ := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/demo:x")
		if err := remote.Write(ref, img.V1); err != nil {
			t.Fatal(err)
		}
		img.Close()
		set, err := imagetest.OpenSet(ref.String())
		if err != nil {
			t.Fatal(err)
		}
		info, err := image.Describe(set.Images[0])
		if err != nil {
			t.Fatal(err)
		}
		if info.ConfigDigest != w.ConfigDigest || info.ManifestDigest == "" || len(info.Layers) != 3 || info.Layers[0].DiffID != w.DiffIDs[0] || info.Layers[2].StorePaths[0] != w.StorePaths[2] {
			t.Errorf("remote info = %+v", info)
		}
		// The cache now knows every layer's digest: reopening computes the manifest without compressing.
		img2, err := imagetest.Open(p, image.WithTempDir(dir), image.WithLayerCache(cache))
		if err != nil {
			t.Fatal(err)
		}
		d, _ := img2.V1.Digest()
		if d.String() != info.ManifestDigest {
			t.Errorf("reopened digest %s, pushed %s", d, info.ManifestDigest)
		}
		left, _ := filepath.Glob(filepath.Join(dir, "nixify-layers-*", "*"))
		if len(left) != 0 {
			t.Errorf("layers compressed although cached: %v", left)
		}
		img2.Close()
		srv.Close()
	}
}

// TestEveryOpenedImageHasAV1Image: an archive opened for its metadata, or not read at all (for
// loading), still offers a v1.Image; its layers are read when asked for, and it validates.
func TestEveryOpenedImageHasAV1Image(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "img.tar.zst")
	w, err := imagetest.WriteFile(p, imagetest.Spec{Layers: 2, Compress: "zstd"})
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range [][]image.Option{{image.WithTempDir(dir)}} {
		img, err := imagetest.Open(p, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(img.V1); err != nil {
			t.Errorf("validate: %v", err)
		}
		info, err := image.Describe(img)
		if err != nil || info.ConfigDigest != w.ConfigDigest || info.Layers[1].StorePaths[0] != w.StorePaths[1] {
			t.Errorf("describe: %+v %v", info, err)
		}
		img.Close()
		if left, _ := filepath.Glob(filepath.Join(dir, "nixify-*")); len(left) != 0 {
			t.Errorf("left after Close: %v", left)
		}
	}
}

// TestConfigDigestWithoutReadingTheLayers: an archive file's config digest (what run asks the
// engine about before loading) comes from its headers and small files, for plain, gzip and zstd.
func TestConfigDigestWithoutReadingTheLayers(t *testing.T) {
	dir := t.TempDir()
	for _, comp := range []string{"", "gzip", "zstd"} {
		p := filepath.Join(dir, "img-"+comp+".tar")
		w, err := imagetest.WriteFile(p, imagetest.Spec{Compress: comp})
		if err != nil {
			t.Fatal(err)
		}
		img, err := imagetest.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := img.ConfigDigest(); got != w.ConfigDigest || img.Archive != nil || img.Architecture() != "amd64" {
			t.Errorf("%q: config digest %q (want %q), scanned %v, arch %q", comp, got, w.ConfigDigest, img.Archive != nil, img.Architecture())
		}
		img.Close()
	}
}
