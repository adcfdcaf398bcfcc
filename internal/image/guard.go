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
// been passed on: an engine unpacking one writes the zeros it claims to disk. Close closes src and
// says why the stream was cut.
func guardTar(src io.ReadCloser) io.ReadCloser {
	g := &guarded{src: src, held: &held{r: src}, buf: make([]byte, 1<<16)}
	g.tr = tar.NewReader(g.held)
	return g
}

type guarded struct {
	src    io.ReadCloser
	held   *held       // what the tar reader has read and nobody has been handed yet
	tr     *tar.Reader // nil once the end marker has passed
	inData bool
	buf    []byte
	err    error
}

// held records what the tar reader reads, to be handed on once it is known to be harmless.
type held struct {
	r   io.Reader
	buf bytes.Buffer
}

func (h *held) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.buf.Write(p[:n])
	return n, err
}

func (g *guarded) Read(p []byte) (int, error) {
	for g.held.buf.Len() == 0 && g.err == nil {
		g.step()
	}
	if g.held.buf.Len() > 0 {
		return g.held.buf.Read(p)
	}
	return 0, g.err
}

// step reads one header or one buffer of an entry's data, or after the end marker what follows.
func (g *guarded) step() {
	var err error
	switch {
	case g.tr == nil:
		_, err = g.held.Read(g.buf)
	case g.inData:
		if _, err = g.tr.Read(g.buf); err == io.EOF {
			g.inData, err = false, nil
		}
	default:
		var hdr *tar.Header
		switch hdr, err = g.tr.Next(); {
		case err == io.EOF:
			g.tr, err = nil, nil
		case err == nil && sparse(hdr):
			g.held.buf.Reset()
			err = fmt.Errorf("%w (%s claims %d bytes): not a docker-archive", ErrSparse, hdr.Name, hdr.Size)
		case err == nil:
			g.inData = true
		}
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("read image archive: %w", err)
	}
	g.err = err
}

func (g *guarded) Close() error {
	if err := g.src.Close(); err != nil {
		return err // a script that failed explains itself best
	}
	if errors.Is(g.err, ErrSparse) {
		return g.err
	}
	return nil
}
