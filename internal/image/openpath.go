package image

import (
	"bytes"
	"context"
	"os"
)

// OpenPath opens a file that holds an image: a streamLayeredImage script (an executable that
// starts with #!), which is run, or else a docker-archive (plain, gzip or zstd).
func OpenPath(ctx context.Context, p string, opts ...Option) (*Image, error) {
	if IsStreamScript(p) {
		return OpenStream(ctx, p, opts...)
	}
	return OpenArchiveFile(p, opts...)
}

// IsStreamScript tells a streamLayeredImage script (an executable starting with #!) from an
// archive.
func IsStreamScript(p string) bool {
	st, err := os.Stat(p)
	if err != nil || st.Mode()&0o111 == 0 {
		return false
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 2)
	n, _ := f.Read(head)
	return bytes.Equal(head[:n], []byte("#!"))
}
