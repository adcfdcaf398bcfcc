package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// guardTar passes a plain tar stream (a stream script's output) on to an engine entry by entry,
// and ends it with ErrSparse at the first sparse entry before a byte of that entry's headers has
// been passed on: an engine unpacking one writes the zeros it claims to disk. Close stops the
// copy, closes src, and says why the stream was cut.
func guardTar(src io.ReadCloser) io.ReadCloser {
	pr, pw := io.Pipe()
	g := &guarded{PipeReader: pr, src: src, done: make(chan struct{})}
	go func() {
		defer close(g.done)
		g.err = copyChecked(pw, src)
		pw.CloseWithError(g.err)
	}()
	return g
}

type guarded struct {
	*io.PipeReader
	src  io.ReadCloser
	done chan struct{}
	err  error // why the copy stopped, set before done closes
}

func (g *guarded) Close() error {
	g.PipeReader.Close()
	<-g.done
	if err := g.src.Close(); err != nil {
		return err // a script that failed explains itself best
	}
	if g.err != nil && !errors.Is(g.err, io.ErrClosedPipe) {
		return g.err
	}
	return nil
}

// held records what the tar reader reads until it is released to the engine's side.
type held struct {
	r   io.Reader
	buf bytes.Buffer
}

func (h *held) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.buf.Write(p[:n])
	return n, err
}

func (h *held) release(w io.Writer) error {
	_, err := h.buf.WriteTo(w)
	return err
}

func copyChecked(w io.Writer, r io.Reader) error {
	h := &held{r: r}
	tr := tar.NewReader(h)
	buf := make([]byte, 1<<16)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			if err := h.release(w); err != nil {
				return err
			}
			_, err := io.CopyBuffer(w, r, buf) // padding after the end marker
			return err
		}
		if err != nil {
			return fmt.Errorf("read image archive: %w", err)
		}
		if sparse(hdr) {
			return fmt.Errorf("%w (%s claims %d bytes): not a docker-archive", ErrSparse, hdr.Name, hdr.Size)
		}
		// The entry's data passes as it is read, a buffer at a time.
		for {
			_, rerr := tr.Read(buf)
			if err := h.release(w); err != nil {
				return err
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return fmt.Errorf("read image archive: %w", rerr)
			}
		}
	}
}
