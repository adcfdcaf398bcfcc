//go:build unix

package iostreams

import (
	"os"
	"os/signal"
	"syscall"
)

// watchResize tells when the terminal was resized, so that live blocks re-read its width.
func watchResize() (<-chan os.Signal, func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGWINCH)
	return c, func() { signal.Stop(c) }
}
