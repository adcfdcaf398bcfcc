package testpeer

import (
	"net"
	"path/filepath"
	"sync"
	"testing"
)

// Silent listens on a random loopback port, accepts every connection and never writes a byte: a
// service that is up but hung. It returns host:port; connections are closed when the test ends.
func Silent(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("silent listener: %v", err)
	}
	hold(t, ln)
	return ln.Addr().String()
}

// SilentSocket is Silent on a unix socket (a Docker engine that is up but hung): it returns the
// socket's path.
func SilentSocket(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "silent.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("silent socket: %v", err)
	}
	hold(t, ln)
	return path
}

// hold accepts every connection on ln and keeps it open, unanswered, until the test ends.
func hold(t testing.TB, ln net.Listener) {
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
}

// Refused returns a loopback host:port where nothing listens, so connecting is refused.
func Refused(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a closed port: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
