package image_test

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/image"
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
		_, err = image.Open(context.Background(), image.Ref{Kind: image.FromArchive, Name: p}, image.WithoutScan())
		if !errors.Is(err, image.ErrSparse) {
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
