//go:build !unix

package iostreams

import "os"

// watchResize never fires where there is no SIGWINCH; the width read at the start stays.
func watchResize() (<-chan os.Signal, func()) { return nil, func() {} }
