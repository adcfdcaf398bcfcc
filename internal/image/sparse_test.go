package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/image/imagetest"
	"github.com/nixify/nixify/internal/record"
)

// The testdata archives are PAX GNU-sparse tars (formats 1.0 and 0.1) whose one entry claims 10^15
// bytes with an empty sparse map: a few hundred bytes that read as a petabyte of zeros.
var sparseArchives = []string{"testdata/sparse-pax-1.0.tar.gz", "testdata/sparse-pax-0.1.tar.gz"}

// TestSparseEntriesAreBounded: reading such an archive ends at once, bounded by the bytes it
// holds, and opening it for an engine refuses it (the engine would write the zeros to disk).
func TestSparseEntriesAreBounded(t *testing.T) {
	for _, p := range sparseArchives {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		done := make(chan error, 1)
		go func() {
			_, err := image.ReadArchive(context.Background(), f)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !errors.Is(err, image.ErrNotArchive) {
				t.Errorf("%s: %v, want not a docker-archive", p, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: still reading after 5 s", p)
		}
		if err := forEngine(image.Ref{Kind: image.FromArchive, Name: p}); !errors.Is(err, image.ErrSparse) {
			t.Errorf("%s opened for loading: %v, want ErrSparse", p, err)
		}
	}
}

// TestReadArchiveHonoursCancel: a stream that never ends (a tar entry of a terabyte) stops
// reading as soon as the context is cancelled.
func TestReadArchiveHonoursCancel(t *testing.T) {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		tw.WriteHeader(&tar.Header{Name: "layer.tar", Mode: 0o644, Size: 1 << 40})
		buf := make([]byte, 1<<16)
		for {
			if _, err := tw.Write(buf); err != nil {
				return
			}
		}
	}()
	defer pr.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := image.ReadArchive(ctx, pr)
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still reading 5 s after the cancel")
	}
}

// TestRecordedArchivesAreCheckedToo: a build record is a file anyone who can write the state
// directory can edit; an archive it names is checked like any other before an engine is handed
// it (a record once named a sparse-file bomb and the engine wrote 14 GB), and a stream script it
// names is run only from the Nix store.
func TestRecordedArchivesAreCheckedToo(t *testing.T) {
	for _, p := range sparseArchives {
		abs, _ := filepath.Abs(p)
		err := forEngine(image.BuildRef(record.Build{Arch: "x86_64", OutPath: abs, Kind: record.Tarball}))
		if !errors.Is(err, image.ErrSparse) {
			t.Errorf("recorded %s opened for loading: %v, want ErrSparse", p, err)
		}
	}
	script := filepath.Join(t.TempDir(), "stream")
	marker := script + ".ran"
	os.WriteFile(script, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o755)
	if err := forEngine(image.BuildRef(record.Build{Arch: "x86_64", OutPath: script, Kind: record.Stream})); !errors.Is(err, image.ErrRefused) {
		t.Errorf("a recorded stream script outside the store: %v, want ErrRefused", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a recorded stream script outside the store ran")
	}
}

// TestStreamsAreGuardedOnTheirWayToTheEngine: a stream script's output cannot be checked before
// it is run, so it is checked as it passes: the first sparse entry ends it before a byte of its
// header reaches the engine.
func TestStreamsAreGuardedOnTheirWayToTheEngine(t *testing.T) {
	abs, _ := filepath.Abs(sparseArchives[0])
	script := filepath.Join(t.TempDir(), "stream")
	os.WriteFile(script, []byte("#!/bin/sh\nexec gzip -dc "+abs+"\n"), 0o755)
	set, err := image.Open(context.Background(), image.Ref{Kind: image.FromStream, Name: script})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	rc, _, err := set.Images[0].OpenArchive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, rc)
	cerr := rc.Close()
	if !errors.Is(err, image.ErrSparse) || !errors.Is(cerr, image.ErrSparse) || n != 0 {
		t.Errorf("passed %d bytes, read error %v, close %v; want nothing passed and ErrSparse", n, err, cerr)
	}
}

// forEngine opens ref and reads what an engine would be handed, as run does.
func forEngine(ref image.Ref) error {
	set, err := image.Open(context.Background(), ref)
	if err != nil {
		return err
	}
	defer set.Close()
	rc, _, err := set.Images[0].OpenArchive(context.Background())
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	return err
}

// TestGuardPassesAnArchiveWhole: what the guard hands on is the stream byte for byte.
func TestGuardPassesAnArchiveWhole(t *testing.T) {
	p := filepath.Join(t.TempDir(), "img.tar")
	if _, err := imagetest.WriteFile(p, imagetest.Spec{Layers: 3, LayerSize: 200 << 10}); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(p)
	script := filepath.Join(t.TempDir(), "stream")
	os.WriteFile(script, []byte("#!/bin/sh\nexec cat "+p+"\n"), 0o755)
	set, err := image.Open(context.Background(), image.Ref{Kind: image.FromStream, Name: script})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	rc, _, err := set.Images[0].OpenArchive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	if cerr := rc.Close(); err != nil || cerr != nil || !bytes.Equal(got, want) {
		t.Errorf("passed %d of %d bytes, equal %v; %v, %v", len(got), len(want), bytes.Equal(got, want), err, cerr)
	}
}
