package container

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/pkg/health"
)

// ReadyError says why the container did not become ready, with what the user needs to see: the
// reason, whether the container exited, and its last log lines.
type ReadyError struct {
	Reason   string
	Exited   bool
	ExitCode int64
	Logs     []string
	Last     *health.Response // the health server's last answer, if it answered at all
}

func (e *ReadyError) Error() string { return e.Reason }

// Probe asks the health server at url once, for results measured now rather than the last
// background round.
func Probe(ctx context.Context, url string) (*health.Response, int, error) {
	c, err := health.NewClient(url, health.WithFresh(), health.WithHTTPClient(&http.Client{Timeout: 3 * time.Second}))
	if err != nil {
		return nil, 0, err
	}
	return c.Health(ctx, "")
}

// WaitReady polls the health server at url until it says pass or warn, the container exits (exited
// receives), or timeout passes. update, when not nil, sees every answer (nil while unreachable).
//
// When the caller's ctx ends (Ctrl-C) it returns ctx's error and nothing else: an interrupted wait
// is not a timeout.
func WaitReady(ctx context.Context, eng engine.Engine, id, url string, exited <-chan engine.Exit, timeout time.Duration, update func(*health.Response, error)) (*health.Response, error) {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last *health.Response
	var lastErr error
	for {
		r, code, err := Probe(ctx, url)
		if err == nil && code == http.StatusOK && r.Status.OK() {
			return r, nil
		}
		if err == nil {
			last, lastErr = r, nil
		} else if ctx.Err() == nil {
			lastErr = err
		}
		if update != nil {
			update(r, err)
		}
		select {
		case x := <-exited:
			reason := fmt.Sprintf("the container exited with code %d before it was ready", x.Code)
			if x.Err != nil {
				reason = fmt.Sprintf("the container stopped before it was ready: %v", x.Err)
			}
			logs := LastLines(context.WithoutCancel(ctx), eng, id, 20)
			if why := initReason(logs); why != "" {
				reason += ": " + why
			}
			return last, &ReadyError{Reason: reason, Exited: true, ExitCode: x.Code, Logs: logs, Last: last}
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return last, err
			}
			return last, &ReadyError{Reason: fmt.Sprintf("not ready after %s: %s", timeout, notReadyReason(last, lastErr)), Logs: LastLines(context.WithoutCancel(ctx), eng, id, 20), Last: last}
		case <-tick.C:
		}
	}
}

// initReason is why nixify-init stopped, from the last log line it writes on its way out
// ("nixify-init: ..."), so that the one line a user reads names it; "" when the last line is not
// the init's.
func initReason(logs []string) string {
	if n := len(logs); n > 0 {
		if why, ok := strings.CutPrefix(logs[n-1], "nixify-init: "); ok {
			return why
		}
	}
	return ""
}

// notReadyReason is the last thing the health server said, in one line.
func notReadyReason(r *health.Response, err error) string {
	if r == nil {
		if err == nil {
			return "the health server never answered"
		}
		return "the health server does not answer: " + lastPart(err.Error())
	}
	var bad []string
	for _, s := range r.Services() {
		if !s.Disabled && !s.Status.OK() {
			msg := s.Name + " " + string(s.Status)
			if s.Output != "" {
				msg += " (" + s.Output + ")"
			}
			bad = append(bad, msg)
		}
	}
	if len(bad) == 0 {
		if r.Output != "" {
			return r.Output
		}
		return "status " + string(r.Status)
	}
	return strings.Join(bad, "; ")
}

func lastPart(s string) string {
	if i := strings.LastIndex(s, ": "); i >= 0 && i+2 < len(s) {
		return s[i+2:]
	}
	return s
}

// LastLines returns up to n of the container's last log lines, stdout and stderr together.
func LastLines(ctx context.Context, eng engine.Engine, id string, n int) []string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var buf bytes.Buffer
	if err := eng.ContainerLogs(ctx, id, engine.LogOptions{Tail: fmt.Sprint(n)}, &buf, &buf); err != nil && buf.Len() == 0 {
		return nil
	}
	text := strings.TrimRight(buf.String(), "\n")
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}
