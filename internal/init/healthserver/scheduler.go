package healthserver

import (
	"context"
	"math"
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

	// kick asks the schedule for a probe now: the supervisor changed the service's state.
	kick chan struct{}

	mu        sync.Mutex
	inflight  *flight
	lastStart time.Time // when the latest probe (of any kind) started

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
	return p.startLocked(base), false
}

// startLocked starts a probe; p.mu is held and no probe is in flight.
func (p *prober) startLocked(base context.Context) *flight {
	f := &flight{done: make(chan struct{})}
	p.inflight = f
	p.lastStart = time.Now()
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
	return f
}

// tick is the background schedule's turn: start a probe unless one is still running (a service
// that hangs is then probed once per timeout, not once per tick on top of it). It returns the
// probe to wait for.
func (p *prober) tick(base context.Context) *flight {
	f, joined := p.start(base)
	if joined {
		p.skipped.Add(1)
	}
	return f
}

// sinceStart is how long ago the latest probe started; very long when none has.
func (p *prober) sinceStart() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastStart.IsZero() {
		return time.Duration(math.MaxInt64)
	}
	return time.Since(p.lastStart)
}

// fresh returns the result of a probe that started less than gap ago, joining the probe in flight
// or starting one when there is none. So requests asking for fresh results, however many, start
// at most one probe of a service per gap.
func (p *prober) fresh(ctx, base context.Context, gap time.Duration) *Result {
	p.mu.Lock()
	f := p.inflight
	switch {
	case f != nil:
		p.shared.Add(1)
	case p.latest.Load() != nil && time.Since(p.lastStart) < gap:
		p.mu.Unlock()
		return p.latest.Load()
	default:
		f = p.startLocked(base)
	}
	p.mu.Unlock()
	select {
	case <-f.done:
		return f.res
	case <-ctx.Done():
		return p.latest.Load()
	}
}

// Backoff of the background checks of a failing service: a service that is starting is seen
// passing within a few tens of milliseconds of being ready, and one that stays down is soon
// probed only once per interval again.
const firstRetry = 50 * time.Millisecond

// nextDelay is how long after the latest probe started the schedule probes again, and the backoff
// to carry: the interval while the service passes, a doubling backoff from firstRetry (up to the
// interval) while it fails.
func nextDelay(latest *Result, backoff, interval time.Duration) (delay, nextBackoff time.Duration) {
	if latest == nil || latest.Status != health.Fail {
		return interval, 0
	}
	if backoff <= 0 {
		backoff = firstRetry
	} else {
		backoff *= 2
	}
	backoff = min(backoff, interval)
	return backoff, backoff
}
