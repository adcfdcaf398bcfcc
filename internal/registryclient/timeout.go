package registryclient

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// stallTimeout abandons a request that makes no progress for timeout: while its body is sent,
// each chunk read restarts the clock; after that, the answer's headers must come in time. A whole-
// request deadline would instead cut a large layer on a slow link, which is progress, not a stall.
type stallTimeout struct {
	inner   http.RoundTripper
	timeout time.Duration
	host    string
}

// StallError is a request abandoned because the registry stopped answering.
type StallError struct {
	Host  string
	After time.Duration
}

func (e *StallError) Error() string {
	return fmt.Sprintf("%s did not answer within %s", e.Host, e.After)
}

// Timeout says what it is. Temporary is false: a registry silent for the whole timeout is told to
// the user at once, not retried five times over minutes.
func (e *StallError) Timeout() bool   { return true }
func (e *StallError) Temporary() bool { return false }

func (t *stallTimeout) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.timeout <= 0 {
		return t.inner.RoundTrip(req)
	}
	parent := req.Context()
	ctx, cancel := context.WithCancel(parent)
	w := &watch{timeout: t.timeout, cancel: cancel}
	w.timer = time.AfterFunc(t.timeout, w.fire)
	req = req.Clone(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &progressBody{ReadCloser: req.Body, touch: func() { w.timer.Reset(t.timeout) }}
	}
	resp, err := t.inner.RoundTrip(req)
	w.timer.Stop()
	if err != nil {
		cancel()
		if w.fired.Load() && parent.Err() == nil {
			return nil, &StallError{Host: t.host, After: t.timeout}
		}
		return nil, err
	}
	// The answer's body is read under the same context, and each read of it may wait for the
	// registry no longer than the timeout: headers then silence is a stall too. Only the time
	// spent inside Read counts, not the reader's own pace. Closing the body releases the context.
	resp.Body = &watchedBody{ReadCloser: resp.Body, w: w, stall: &StallError{Host: t.host, After: t.timeout}, parent: parent}
	return resp, nil
}

// watch is one request's stall timer.
type watch struct {
	timeout time.Duration
	timer   *time.Timer
	cancel  func()
	fired   atomic.Bool
}

func (w *watch) fire() {
	w.fired.Store(true)
	w.cancel()
}

type progressBody struct {
	io.ReadCloser
	touch func()
}

func (b *progressBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.touch()
	return n, err
}

type watchedBody struct {
	io.ReadCloser
	w      *watch
	stall  *StallError
	parent context.Context
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.w.timer.Reset(b.w.timeout)
	n, err := b.ReadCloser.Read(p)
	b.w.timer.Stop()
	if err != nil && err != io.EOF && b.w.fired.Load() && b.parent.Err() == nil {
		return n, b.stall
	}
	return n, err
}

func (b *watchedBody) Close() error {
	b.w.timer.Stop()
	err := b.ReadCloser.Close()
	b.w.cancel()
	return err
}
