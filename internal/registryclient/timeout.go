package registryclient

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
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
	var mu sync.Mutex
	stalled := false
	timer := time.AfterFunc(t.timeout, func() {
		mu.Lock()
		stalled = true
		mu.Unlock()
		cancel()
	})
	req = req.Clone(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &progressBody{ReadCloser: req.Body, touch: func() { timer.Reset(t.timeout) }}
	}
	resp, err := t.inner.RoundTrip(req)
	timer.Stop()
	if err != nil {
		cancel()
		mu.Lock()
		defer mu.Unlock()
		if stalled && parent.Err() == nil {
			return nil, &StallError{Host: t.host, After: t.timeout}
		}
		return nil, err
	}
	// The answer's body is read under the same context: it is released when the body is closed.
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
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

type cancelBody struct {
	io.ReadCloser
	cancel func()
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
