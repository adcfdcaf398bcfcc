package health

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/pkg/health"
)

func TestFlags(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	f := &cli.Factory{IO: io, Getenv: func(string) string { return "" }}
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

func TestReportFromResponse(t *testing.T) {
	lat := 0.0123
	resp := &health.Response{Status: health.Fail, Checks: map[string][]health.Check{
		"postgres:responseTime": {{Status: health.Pass, ObservedValue: &lat, ObservedUnit: "s"}},
		"redis:responseTime":    {{Status: health.Fail, Output: "connection refused"}},
		"garage:responseTime":   {{Status: health.Pass, Output: "disabled", Disabled: true}},
	}}
	r := FromResponse(Report{Container: "c", State: "running", Engine: "healthy"}, resp, 503)
	if r.Healthy || len(r.Services) != 3 || r.Services[1].Name != "postgres" || r.Services[1].LatencyMS != 12.3 {
		t.Fatalf("%+v", r)
	}
	io, _, out, _ := iostreams.Test()
	if err := Print(io, r); err != nil {
		t.Fatal(err)
	}
	want := "garage\tdisabled\t-\tdisabled\npostgres\tpass\t12.3ms\t\nredis\tfail\t0.0ms\tconnection refused\nc: not healthy (container running, engine healthcheck: healthy)\n"
	if out.String() != want {
		t.Fatalf("got %q\nwant %q", out.String(), want)
	}
	lines := Lines(r, io.Styles())
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "SERVICE") {
		t.Fatalf("lines: %q", lines)
	}
}

func TestWatchPrintsEachRoundAndEndsWithTheLastVerdict(t *testing.T) {
	io, _, out, _ := iostreams.Test()
	opts := &Options{IO: io, Interval: time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	rounds := 0
	err := watch(ctx, opts, func() (Report, error) {
		rounds++
		if rounds == 3 {
			cancel()
		}
		return Report{Container: "c", State: "running", Healthy: rounds < 3, Error: "redis fails"}, nil
	})
	var ee *cli.ExitError
	if !errors.As(err, &ee) || ee.Code != cli.ExitUnhealthy {
		t.Fatalf("err = %v, want exit %d", err, cli.ExitUnhealthy)
	}
	if n := strings.Count(out.String(), "c: "); n != 3 {
		t.Fatalf("%d rounds printed, want 3:\n%s", n, out.String())
	}
}
