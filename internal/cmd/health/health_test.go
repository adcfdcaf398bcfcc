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
	"github.com/nixify/nixify/pkg/health"
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

// TestWatchOnATerminalDrawsOncePerAnswer (issue 23): the table is drawn when the answer changed
// (it was redrawn ten times a second), under the time of the answer, each drawing erasing the
// last, and Ctrl-C leaves the last drawing as it is (it used to erase it).
func TestWatchOnATerminalDrawsOncePerAnswer(t *testing.T) {
	io, _, out, _ := iostreams.Test()
	io.SetTTY(true)
	io.DisableColor()
	ctx, cancel := context.WithCancel(context.Background())
	rounds := 0
	err := watch(ctx, &Options{IO: io, Interval: time.Millisecond}, func() (shared.Report, error) {
		rounds++
		if rounds == 3 {
			cancel()
		}
		return shared.Report{Container: "c", State: "running", Healthy: true,
			Services: []shared.ServiceReport{{Name: "redis", Status: health.Pass}}}, nil
	})
	if cli.Code(err) != cli.ExitInterrupted {
		t.Fatalf("err = %v", err)
	}
	s := out.String()
	// The table is a live block: a drawing is made when the answer changed (not ten times a
	// second), each later one erasing the last one's 4 lines.
	n := strings.Count(s, "updated ")
	if n < 1 {
		t.Fatalf("no drawing:\n%q", s)
	}
	if e := strings.Count(s, "\x1b[1A\x1b[2K"); e != 4*(n-1) {
		t.Fatalf("%d lines erased for %d drawings, want %d:\n%q", e, n, 4*(n-1), s)
	}
	if !strings.HasSuffix(s, "Ctrl-C stops\n") || !strings.Contains(s, "every 1ms") {
		t.Fatalf("the last drawing does not stay whole:\n%q", s)
	}
}

// TestServiceArguments (issue 23): `nixify health postgres` is a service to look at, not an
// unknown command; the verdict is the named services'.
func TestServiceArguments(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	f := clitest.Factory(t, io)
	var got *Options
	if err := clitest.Execute(NewCmdHealth(f, func(o *Options) error { got = o; return nil }), "postgres", "redis"); err != nil || len(got.Services) != 2 {
		t.Fatalf("health postgres redis: %+v %v", got, err)
	}
	err := clitest.Execute(NewCmdHealth(f, func(o *Options) error { return nil }), "mysql")
	if cli.Code(err) != cli.ExitUsage || !strings.Contains(err.Error(), `unknown service "mysql": accepted: postgres, redis, garage`) {
		t.Fatalf("health mysql: %v", err)
	}
	r := shared.Report{HTTPStatus: 503, Services: []shared.ServiceReport{{Name: "postgres", Status: health.Pass}, {Name: "redis", Status: health.Fail},
		{Name: "garage", Status: shared.Disabled, Disabled: true}}}
	if o := only(r, []string{"postgres"}); !o.Healthy || len(o.Services) != 1 {
		t.Errorf("postgres passes, redis fails: %+v", o)
	}
	if o := only(r, []string{"postgres", "redis"}); o.Healthy {
		t.Errorf("redis fails: %+v", o)
	}
	if o := only(r, []string{"garage"}); o.Healthy {
		t.Errorf("garage is disabled: %+v", o)
	}
}

// TestWaitStatusIsSeparated (issue 23): the wait's progress read "... to be healthy waiting for
// postgres, redis"; what follows the title is set off and says what is not ready.
func TestWaitStatusIsSeparated(t *testing.T) {
	r := shared.Report{Status: health.Fail, Services: []shared.ServiceReport{{Name: "postgres", Status: health.Fail},
		{Name: "redis", Status: health.Pass}, {Name: "garage", Status: shared.Disabled, Disabled: true}}}
	if got := waitStatus(r, nil); got != "· not ready yet: postgres" {
		t.Errorf("got %q", got)
	}
	if got := waitStatus(shared.Report{Error: "the health server does not answer: connection refused"}, nil); got != "· the health server does not answer: connection refused" {
		t.Errorf("got %q", got)
	}
}

// TestIntervalHasAFloor: --watch --interval 1ms would ask the engine and the health server a
// thousand times a second.
func TestIntervalHasAFloor(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	f := clitest.Factory(t, io)
	err := clitest.Execute(NewCmdHealth(f, func(o *Options) error { return nil }), "--watch", "--interval", "1ms")
	if cli.Code(err) != cli.ExitUsage || !strings.Contains(err.Error(), "invalid --interval 1ms: accepted: 250ms or more") {
		t.Fatalf("--interval 1ms: %v", err)
	}
}
