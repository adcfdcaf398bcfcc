package healthserver

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nixify/nixify/pkg/health"
)

// prober owns the checks of one service. Requests never run a check themselves: they read the latest
// result, or, when they ask for a fresh one, wait for the single probe in flight, so that no request
// rate can multiply the load on the service.
type prober struct {
	service string
	check   checker
	timeout time.Duration
	onDone  func(prev, cur *Result)

	latest atomic.Pointer[Result]

	mu       sync.Mutex
	inflight *flight

	// Counters for /metrics.
	probes   [3]atomic.Uint64 // finished probes by status: pass, warn, fail
	started  atomic.Uint64    // probes started
	skipped  atomic.Uint64    // background ticks that found a probe still in flight
	shared   atomic.Uint64    // fresh requests that joined a probe already in flight
	duration atomic.Int64     // total probe time in nanoseconds
}

type flight struct {
	done chan struct{}
	res  *Result
}

func statusIndex(s health.Status) int {
	switch s {
	case health.Pass:
		return 0
	case health.Warn:
		return 1
	}
	return 2
}

// start begins a probe unless one is in flight, and returns the flight either way. base bounds the
// probe's life; it is the server's context, never a request's, so one impatient client cannot cancel
// a probe that others wait for.
func (p *prober) start(base context.Context) (f *flight, joined bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inflight != nil {
		return p.inflight, true
	}
	f = &flight{done: make(chan struct{})}
	p.inflight = f
	p.started.Add(1)
	go func() {
		ctx, cancel := context.WithTimeout(base, p.timeout)
		began := time.Now()
		obs := p.check(ctx)
		cancel()
		res := newResult(p.service, began, obs)
		prev := p.latest.Swap(res)
		p.probes[statusIndex(res.Status)].Add(1)
		p.duration.Add(int64(res.Finished.Sub(began)))
		p.mu.Lock()
		f.res = res
		p.inflight = nil
		p.mu.Unlock()
		close(f.done)
		if p.onDone != nil {
			p.onDone(prev, res)
		}
	}()
	return f, false
}

// tick is the background schedule's turn: start a probe unless the previous one is still running (a
// service that hangs is then probed once per timeout, not once per tick on top of it).
func (p *prober) tick(base context.Context) {
	if _, joined := p.start(base); joined {
		p.skipped.Add(1)
	}
}

// fresh returns a result that started at most maxAge ago, probing (once, shared) if there is none.
func (p *prober) fresh(ctx, base context.Context, maxAge time.Duration) *Result {
	if r := p.latest.Load(); r != nil && time.Since(r.Started) <= maxAge {
		return r
	}
	f, joined := p.start(base)
	if joined {
		p.shared.Add(1)
	}
	select {
	case <-f.done:
		return f.res
	case <-ctx.Done():
		return p.latest.Load()
	}
}
