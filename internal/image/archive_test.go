package image_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/image/imagetest"
)

func TestReadArchiveCompressions(t *testing.T) {
	for _, comp := range []string{"", "gzip", "zstd"} {
		t.Run("compress="+comp, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "img.tar")
			w, err := imagetest.WriteFile(p, imagetest.Spec{Layers: 4, Seed: 3, Compress: comp, RepoTag: "demo:1"})
			if err != nil {
				t.Fatal(err)
			}
			a, err := imagetest.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]image.Compression{"": image.Uncompressed, "gzip": image.Gzip, "zstd": image.Zstd}[comp]
			if a.Compression != want {
				t.Errorf("compression %q, want %q", a.Compression, want)
			}
			if a.ConfigDigest != w.ConfigDigest || !bytes.Equal(a.Config, w.Config) {
				t.Errorf("config digest %s, want %s", a.ConfigDigest, w.ConfigDigest)
			}
			if len(a.RepoTags) != 1 || a.RepoTags[0] != "demo:1" {
				t.Errorf("repo tags %v", a.RepoTags)
			}
			if len(a.Layers) != 4 {
				t.Fatalf("%d layers, want 4", len(a.Layers))
			}
			for i, l := range a.Layers {
				if l.Digest != w.DiffIDs[i] || l.DiffID != w.DiffIDs[i] || l.Size <= 4096 || l.Compression != image.Uncompressed {
					t.Errorf("layer %d = %+v, want digest %s", i, l, w.DiffIDs[i])
				}
			}
			st, _ := os.Stat(p)
			if a.ReadBytes != st.Size() {
				t.Errorf("read %d bytes, file has %d", a.ReadBytes, st.Size())
			}
		})
	}
}

func TestReadArchiveTruncatedAndCorrupt(t *testing.T) {
	for _, comp := range []string{"", "gzip", "zstd"} {
		var buf bytes.Buffer
		if _, err := imagetest.WriteArchive(&buf, imagetest.Spec{Layers: 2, Seed: 1, Compress: comp}); err != nil {
			t.Fatal(err)
		}
		full := buf.Bytes()
		for _, cut := range []int{len(full) / 3, len(full) / 2, len(full) - 1100} {
			_, err := image.ReadArchive(context.Background(), bytes.NewReader(full[:cut]))
			if err == nil {
				t.Fatalf("%s cut at %d of %d: no error", comp, cut, len(full))
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !(strings.Contains(msg, "truncated") || strings.Contains(msg, "corrupt") || strings.Contains(msg, "not a docker-archive")) {
				t.Errorf("%s cut at %d: unclear error %q", comp, cut, msg)
			}
		}
		bad := bytes.Clone(full)
		for i := len(bad) / 4; i < len(bad)/4+64; i++ {
			bad[i] ^= 0x5a
		}
		if _, err := image.ReadArchive(context.Background(), bytes.NewReader(bad)); err == nil {
			t.Errorf("%s: corrupted bytes read without error", comp)
		}
	}
}

func TestReadArchiveNotAnArchive(t *testing.T) {
	for name, data := range map[string][]byte{"empty": nil, "text": []byte("hello, world\n"), "gzip-garbage": {0x1f, 0x8b, 1, 2, 3}} {
		_, err := image.ReadArchive(context.Background(), bytes.NewReader(data))
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
	_, err := image.ReadArchive(context.Background(), bytes.NewReader(nil))
	if !errors.Is(err, image.ErrNotArchive) {
		t.Errorf("empty stream: %v, want ErrNotArchive", err)
	}
}

// FuzzReadArchive feeds mutated archives to the reader: it must return an error or a consistent
// archive, never panic or hang. The corpus in testdata holds the sparse archives that once hashed
// zeros forever. Run:
//
//	go test ./internal/image -run XXX -fuzz FuzzReadArchive -fuzzminimizetime 2s
//
// (Go minimizes each new input for up to a minute by default: on archives of a few KiB that is
// the whole run.)
func FuzzReadArchive(f *testing.F) {
	for _, comp := range []string{"", "gzip"} {
		var buf bytes.Buffer
		imagetest.WriteArchive(&buf, imagetest.Spec{Layers: 1, LayerSize: 64, Compress: comp})
		f.Add(buf.Bytes())
	}
	f.Add([]byte{})
	for _, p := range sparseArchives {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := image.ReadArchive(context.Background(), bytes.NewReader(data))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
			return
		}
		if a.ConfigDigest == "" || len(a.Manifest) == 0 {
			t.Fatalf("archive without config: %+v", a)
		}
	})
}

// BenchmarkReadArchiveSmall is the cost of one fuzzing input: a tiny archive read end to end.
func BenchmarkReadArchiveSmall(b *testing.B) {
	for _, comp := range []string{"", "gzip"} {
		var buf bytes.Buffer
		imagetest.WriteArchive(&buf, imagetest.Spec{Layers: 1, LayerSize: 64, Compress: comp})
		b.Run("compress="+comp, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := image.ReadArchive(context.Background(), bytes.NewReader(buf.Bytes())); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
