package healthserver

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The phases of a connection the watchdog bounds, kept in a limitConn's low bits.
const (
	phaseHeader uint64 = iota // accepted, or the next request's first byte came: reading headers
	phaseActive               // headers read: body, handler and answer
	phaseIdle                 // between requests on a kept-alive connection
	phaseCount

	phaseBits = 2
	phaseMask = 1<<phaseBits - 1
)

// watchdog bounds every phase of every connection of one server with one goroutine, instead of the
// four deadlines net/http would arm on each request (ReadHeaderTimeout, ReadTimeout, WriteTimeout,
// IdleTimeout: a runtime timer each, 3-4 % of the CPU under load, BENCHMARKS.md). A connection
// stamps its phase with a coarse clock the watchdog advances; each tick the watchdog closes the
// connections that have stayed in a phase longer than its budget. A deadline is thus met late by up
// to two ticks, never early.
type watchdog struct {
	tick    time.Duration
	budget  [phaseCount]uint64 // in ticks, the slack of the coarse clock included
	started time.Time
	clock   atomic.Uint64 // ticks since started

	mu    sync.Mutex // only when a connection comes or goes
	conns map[*limitConn]struct{}
}

func newWatchdog(tick, header, active, idle time.Duration) *watchdog {
	w := &watchdog{tick: tick, started: time.Now(), conns: map[*limitConn]struct{}{}}
	for p, d := range [phaseCount]time.Duration{phaseHeader: header, phaseActive: active, phaseIdle: idle} {
		// A stamp may be up to a tick old when taken: one tick more so that no one is cut short.
		w.budget[p] = uint64((d+tick-1)/tick) + 1
	}
	return w
}

// connState is the http.Server's ConnState hook: it runs on every change, so it only stores a stamp
// (the map is touched when a connection comes or goes).
func (w *watchdog) connState(nc net.Conn, state http.ConnState) {
	c, ok := nc.(*limitConn)
	if !ok {
		return
	}
	switch state {
	case http.StateNew:
		c.enter(phaseHeader)
		w.mu.Lock()
		w.conns[c] = struct{}{}
		w.mu.Unlock()
	case http.StateActive:
		c.enter(phaseActive)
	case http.StateIdle:
		c.enter(phaseIdle)
	case http.StateHijacked, http.StateClosed:
		w.mu.Lock()
		delete(w.conns, c)
		w.mu.Unlock()
	}
}

// run ticks until ctx ends, closing the connections over their phase's budget.
func (w *watchdog) run(ctx context.Context) {
	t := time.NewTicker(w.tick)
	defer t.Stop()
	var late []*limitConn
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// From the wall of time rather than counting ticks: a ticker drops ticks when the goroutine
		// is late, and the clock must not run slow.
		now := uint64(time.Since(w.started) / w.tick)
		w.clock.Store(now)
		late = late[:0]
		w.mu.Lock()
		for c := range w.conns {
			ph := c.phase.Load()
			if since := ph >> phaseBits; now > since && now-since > w.budget[ph&phaseMask] {
				late = append(late, c)
			}
		}
		w.mu.Unlock()
		for _, c := range late {
			c.Close() // net/http's read or write fails, and it reports StateClosed
		}
	}
}
