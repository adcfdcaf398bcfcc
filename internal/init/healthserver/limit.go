package healthserver

import (
	"net"
	"sync"
	"sync/atomic"
)

// limitConns returns a listener that accepts at most n connections at a time. One over the limit is
// closed at once rather than left waiting in the kernel's queue: a client then learns immediately,
// and a flood of idle connections cannot grow the init's memory. Each connection reads the
// watchdog's clock to stamp its phases (see watchdog).
func limitConns(ln net.Listener, n int, clock *atomic.Uint64) net.Listener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), clock: clock}
}

type limitListener struct {
	net.Listener
	slots chan struct{}
	clock *atomic.Uint64
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			lc := &limitConn{Conn: c, release: func() { <-l.slots }, clock: l.clock}
			lc.enter(phaseHeader)
			return lc, nil
		default:
			c.Close()
		}
	}
}

// limitConn is an accepted connection: it gives its slot back when closed, and it carries the
// phase the watchdog bounds, so that http.Server.ConnState reaches it without a lock.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()

	clock *atomic.Uint64 // the watchdog's, in ticks
	phase atomic.Uint64  // the tick the phase began, shifted, with the phase in the low bits
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// Read moves an idle connection to reading headers at the first byte of its next request: net/http
// only calls a connection active once the headers are complete, so a trickled second request would
// otherwise have the whole idle budget. (A partial request that arrived with the previous one, read
// while that one was served, is bounded by the idle budget.)
func (c *limitConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		if old := c.phase.Load(); old&phaseMask == phaseIdle {
			c.phase.CompareAndSwap(old, c.stamp(phaseHeader))
		}
	}
	return n, err
}

// enter records that the connection is in phase p from now on.
func (c *limitConn) enter(p uint64) { c.phase.Store(c.stamp(p)) }

func (c *limitConn) stamp(p uint64) uint64 { return c.clock.Load()<<phaseBits | p }
