package health

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cli/clitest"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/iostreams"
)

func TestFlags(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	f := clitest.Factory(t, io)
	var got *Options
	cmd := NewCmdHealth(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--wait", "60s"})
	if err := cmd.Execute(); err != nil || got.Wait != time.Minute {
		t.Fatalf("%+v %v", got, err)
	}
	cmd = NewCmdHealth(f, func(o *Options) error { return nil })
	cmd.SetArgs([]string{"--wait", "-1s"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	var ee *cli.ExitError
	if !errors.As(err, &ee) || ee.Code != cli.ExitUsage {
		t.Fatalf("--wait -1s: %v", err)
	}
}

func TestWatchPrintsEachRoundAndCtrlCIsTheInterrupt(t *testing.T) {
	io, _, out, _ := iostreams.Test()
	opts := &Options{IO: io, Interval: time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	rounds := 0
	err := watch(ctx, opts, func() (shared.Report, error) {
		rounds++
		if rounds == 3 {
			defer cancel()
		}
		return shared.Report{Container: "c", State: "running", Healthy: rounds < 3, Error: "redis fails"}, nil
	})
	if cli.Code(err) != cli.ExitInterrupted {
		t.Fatalf("err = %v, want the interrupt (exit %d)", err, cli.ExitInterrupted)
	}
	if n := strings.Count(out.String(), "c: "); n != 2 {
		t.Fatalf("%d rounds printed, want 2:\n%s", n, out.String())
	}
}

// TestWaitInterruptedSaysNothingElse: Ctrl-C during --wait is exit 130 and no "not healthy after".
func TestWaitInterruptedSaysNothingElse(t *testing.T) {
	io, _, out, errOut := iostreams.Test()
	opts := &Options{IO: io, Wait: time.Minute, Interval: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := wait(ctx, opts, "c", func() (shared.Report, error) {
		calls++
		if calls == 2 {
			cancel()
		}
		return shared.Report{Container: "c", State: "running", Error: "starting"}, nil
	})
	if cli.Code(err) != cli.ExitInterrupted || strings.Contains(errOut.String(), "not healthy") || out.Len() != 0 {
		t.Fatalf("err %v (exit %d)\nstdout %q\nstderr %q", err, cli.Code(err), out.String(), errOut.String())
	}
}
