package container

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestWaitReadyInterruptedIsNotATimeout: Ctrl-C (a cancelled context, with the cause Go's
// signal.NotifyContext gives it) ends the wait with the context's error at once, not with "not
// ready after" (which once came after the timeout's worth of polling, with exit 3).
func TestWaitReadyInterruptedIsNotATimeout(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(200*time.Millisecond, func() { cancel(errors.New("interrupt signal received")) })
	began := time.Now()
	_, err := WaitReady(ctx, nil, "id", "http://127.0.0.1:1", nil, 2*time.Minute, nil)
	var re *ReadyError
	if !errors.Is(err, context.Canceled) || errors.As(err, &re) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if time.Since(began) > 5*time.Second {
		t.Fatalf("took %s to notice the interrupt", time.Since(began))
	}
}
