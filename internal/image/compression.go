package image

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression is how an archive or a layer file is compressed.
type Compression string

const (
	Uncompressed Compression = "none"
	Gzip         Compression = "gzip"
	Zstd         Compression = "zstd"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// detectCompression names the compression whose magic number starts b.
func detectCompression(b []byte) Compression {
	switch {
	case bytes.HasPrefix(b, gzipMagic):
		return Gzip
	case bytes.HasPrefix(b, zstdMagic):
		return Zstd
	}
	return Uncompressed
}

// decompress peeks at r's first bytes and returns a reader of the decompressed stream. close releases
// the decoder (zstd keeps goroutines).
func decompress(r io.Reader) (out io.Reader, c Compression, close func(), err error) {
	br := bufio.NewReaderSize(r, 1<<16)
	head, _ := br.Peek(4) // a short stream is caught by the tar reader
	c = detectCompression(head)
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, c, nil, fmt.Errorf("corrupt gzip stream: %w", err)
		}
		return zr, c, func() { zr.Close() }, nil
	case Zstd:
		// One decoder goroutine: on a 2-core machine the hashing is the other half of the work.
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, c, nil, fmt.Errorf("corrupt zstd stream: %w", err)
		}
		return zr, c, zr.Close, nil
	}
	return br, c, func() {}, nil
}
