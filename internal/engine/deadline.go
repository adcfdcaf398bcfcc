package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Timeouts bound every call to the engine, so that an engine that accepts connections and never
// answers (a hung daemon, a proxy with nothing behind it) costs a command seconds, not forever.
// Each is the longest the engine may stay silent: a call that answers at once gets a short bound,
// a stream (an image load, logs) may run as long as it keeps moving.
type Timeouts struct {
	// Ping bounds the first question every command asks.
	Ping time.Duration
	// Query bounds the answers the engine gives from what it knows: inspect, list, tag, kill,
	// volumes, and setting up an exec.
	Query time.Duration
	// Change bounds the calls where the engine does work before it answers: create, start,
	// remove (which kills first), and a stop on top of its own stop timeout.
	Change time.Duration
	// Stall bounds the silence in a stream: an image load or save, logs that are not followed.
	// Bytes in either direction count as progress.
	Stall time.Duration
}

// DefaultTimeouts are generous for a busy engine on a slow machine and still end a hang.
var DefaultTimeouts = Timeouts{Ping: 10 * time.Second, Query: 30 * time.Second, Change: 2 * time.Minute, Stall: 2 * time.Minute}

// Option changes how New connects (the tests' WithTimeouts, in export_test.go).
type Option func(*docker)

// SilentError is the cause of a call ended because the engine said nothing for Limit.
type SilentError struct{ Limit time.Duration }

func (e *SilentError) Error() string { return fmt.Sprintf("no answer within %s", e.Limit) }

// deadline cancels a call's context once the engine has been silent for limit. Streams call kick
// on every byte that moves; disarm keeps the context alive but unbounded (an attached shell, a
// followed log, once the engine has answered).
type deadline struct {
	limit  time.Duration
	cancel context.CancelCauseFunc

	mu    sync.Mutex
	timer *time.Timer
	last  time.Time
	off   bool
}

func newDeadline(parent context.Context, limit time.Duration) (context.Context, *deadline) {
	ctx, cancel := context.WithCancelCause(parent)
	dl := &deadline{limit: limit, cancel: cancel, last: time.Now()}
	dl.mu.Lock()
	dl.timer = time.AfterFunc(limit, dl.fire)
	dl.mu.Unlock()
	return ctx, dl
}

func (dl *deadline) fire() {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if dl.off {
		return
	}
	if rest := dl.limit - time.Since(dl.last); rest > 0 {
		dl.timer.Reset(rest)
		return
	}
	dl.cancel(&SilentError{Limit: dl.limit})
}

func (dl *deadline) kick() {
	dl.mu.Lock()
	dl.last = time.Now()
	dl.mu.Unlock()
}

// stream moves the bound from the first answer to the silence in what follows.
func (dl *deadline) stream(limit time.Duration) {
	dl.mu.Lock()
	dl.limit, dl.last = limit, time.Now()
	dl.mu.Unlock()
}

func (dl *deadline) disarm() {
	dl.mu.Lock()
	dl.off = true
	dl.timer.Stop()
	dl.mu.Unlock()
}

// end releases the call's context.
func (dl *deadline) end() {
	dl.disarm()
	dl.cancel(nil)
}

// silence returns the SilentError that ended ctx, or nil.
func silence(ctx context.Context) *SilentError {
	var se *SilentError
	if errors.As(context.Cause(ctx), &se) {
		return se
	}
	return nil
}

// kickReader counts every byte read as the engine's progress.
type kickReader struct {
	r  io.Reader
	dl *deadline
}

func (k kickReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if n > 0 {
		k.dl.kick()
	}
	return n, err
}

// kickWriter counts every byte written as the engine's progress.
type kickWriter struct {
	w  io.Writer
	dl *deadline
}

func (k kickWriter) Write(p []byte) (int, error) {
	k.dl.kick()
	return k.w.Write(p)
}

// boundedBody is a stream handed to the caller: reads count as progress, Close ends the call.
type boundedBody struct {
	kickReader
	c    io.Closer
	dl   *deadline
	ctx  context.Context
	what string
}

func (b boundedBody) Read(p []byte) (int, error) {
	n, err := b.kickReader.Read(p)
	if err != nil && err != io.EOF {
		if se := silence(b.ctx); se != nil {
			return n, unreachable("%s: the engine gave %s", b.what, se)
		}
	}
	return n, err
}

func (b boundedBody) Close() error {
	err := b.c.Close()
	b.dl.end()
	return err
}

// unreachableError is an error that means the engine is out of reach (errors.Is ErrUnavailable)
// and says so in its own words, without the sentinel's text appended.
type unreachableError struct{ msg string }

func (e *unreachableError) Error() string        { return e.msg }
func (e *unreachableError) Is(target error) bool { return target == ErrUnavailable }

func unreachable(format string, a ...any) error {
	return &unreachableError{msg: fmt.Sprintf(format, a...)}
}
