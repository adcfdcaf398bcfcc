package container_test

import (
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixify/nixify/e2e/testimage"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/record"
	"github.com/nixify/nixify/internal/testpeer"
)

// TestLoadSources streams the same small image into the real engine from a plain archive, a gzip
// archive and a stream script, and skips the load when the engine holds the image.
func TestLoadSources(t *testing.T) {
	eng := testpeer.Engine(t)
	if !testimage.Exists("/bin/busybox") {
		testpeer.Missing(t, "busybox-static", "/bin/busybox is the test image's only program")
	}
	ctx := context.Background()
	dir := t.TempDir()
	plain := filepath.Join(dir, "img.tar")
	digest, err := testimage.Write(testimage.Spec{Tag: "nixify-load-test:1", Arch: "amd64",
		Entries: []testimage.Entry{{Path: "/bin/busybox", From: "/bin/busybox"}}}, plain)
	if err != nil {
		t.Fatal(err)
	}
	remove := func() { eng.ImageRemove(ctx, digest) }
	remove()
	t.Cleanup(remove)

	gz := filepath.Join(dir, "img.tar.gz")
	gzipFile(t, plain, gz)
	script := filepath.Join(dir, "stream")
	os.WriteFile(script, []byte("#!/bin/sh\nexec /bin/cat "+plain+"\n"), 0o755)

	var calls int
	progress := func(done, total int64, status string) { calls++ }
	// open opens a source as run does: without reading it ahead.
	open := func(ref image.Ref) *image.Image {
		t.Helper()
		set, err := image.Open(ctx, ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		return set.Images[0]
	}
	// A recorded stream runs only from the Nix store: the script here is a stream as code names it,
	// and the recorded digest is a recorded archive's.
	build := image.BuildRef(record.Build{Arch: "x86_64", OutPath: gz, Kind: record.Tarball, ConfigDigest: digest})
	for _, src := range []image.Ref{
		{Kind: image.FromArchive, Name: plain},
		{Kind: image.FromArchive, Name: gz},
		{Kind: image.FromStream, Name: script},
	} {
		l, err := container.Load(ctx, eng, open(src), progress)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if l.Skipped || l.ImageID != digest || l.Bytes == 0 {
			t.Fatalf("%s: %+v, want a load of %s", src, l, digest)
		}
		// Now the engine holds it: a plain archive and a recorded digest are recognised without
		// reading the archive.
		for _, again := range []image.Ref{{Kind: image.FromArchive, Name: plain}, build} {
			l, err = container.Load(ctx, eng, open(again), nil)
			if err != nil || !l.Skipped || l.ImageID != digest {
				t.Fatalf("%s again: %+v %v, want skipped", again, l, err)
			}
		}
		remove()
	}
	if calls == 0 {
		t.Error("progress was never reported")
	}

	bad := filepath.Join(dir, "bad-stream")
	os.WriteFile(bad, []byte("#!/bin/sh\necho 'error: the store path is gone' >&2\nexit 3\n"), 0o755)
	_, err = container.Load(ctx, eng, open(image.Ref{Kind: image.FromStream, Name: bad}), nil)
	if err == nil || !strings.Contains(err.Error(), "the store path is gone") {
		t.Fatalf("failing stream: %v", err)
	}
	_, err = image.Open(ctx, image.Ref{Kind: image.FromArchive, Name: filepath.Join(dir, "missing.tar")})
	if err == nil || !strings.Contains(err.Error(), "missing.tar") {
		t.Fatalf("missing archive: %v", err)
	}
}

func gzipFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(out)
	io.Copy(zw, in)
	zw.Close()
	out.Close()
}
