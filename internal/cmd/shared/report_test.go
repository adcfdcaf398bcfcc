package shared

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/pkg/health"
)

func TestReportFromResponse(t *testing.T) {
	lat := 0.0123
	resp := &health.Response{Status: health.Fail, Checks: map[string][]health.Check{
		"postgres:responseTime": {{Status: health.Pass, ObservedValue: &lat, ObservedUnit: "s"}},
		"redis:responseTime":    {{Status: health.Fail, Output: "connection refused"}},
		"garage:responseTime":   {{Status: health.Disabled, Output: "disabled"}},
	}}
	r := FromResponse(Report{Container: "c", State: "running", Engine: "healthy"}, resp, 503)
	if r.Healthy || len(r.Services) != 3 || r.Services[1].Name != "postgres" || r.Services[1].LatencySeconds != 0.0123 {
		t.Fatalf("%+v", r)
	}
	io, _, out, _ := iostreams.Test()
	if err := PrintHealth(io, r); err != nil {
		t.Fatal(err)
	}
	want := "garage\tdisabled\t-\tdisabled\npostgres\tpass\t12.3ms\t\nredis\tfail\t0.0ms\tconnection refused\nc: not healthy (container running, engine healthcheck: healthy)\n"
	if out.String() != want {
		t.Fatalf("got %q\nwant %q", out.String(), want)
	}
}

// TestHealthLinesKeepColourOnATerminal: the live view of health --watch is the same table as
// PrintHealth, with the statuses coloured (it used to drop every colour).
func TestHealthLinesKeepColourOnATerminal(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	io.SetTTY(true)
	r := Report{Container: "c", State: "running", Healthy: true, Services: []ServiceReport{{Name: "redis", Status: health.Pass, LatencySeconds: 0.001}}}
	lines := HealthLines(io, r)
	if len(lines) != 3 || !strings.Contains(lines[0], "SERVICE") {
		t.Fatalf("lines: %q", lines)
	}
	if !strings.Contains(lines[1], "\x1b[") || !strings.Contains(lines[2], "\x1b[") {
		t.Fatalf("no colour in the live view: %q", lines)
	}
}

// TestReportSaysOneThing (issue 23): a disabled service is "disabled" in JSON as in text; the
// engine's "starting" healthcheck does not read as the container starting; a health server that
// hangs up is one short reason, not Go's doubled "GET url: Get "url": EOF".
func TestReportSaysOneThing(t *testing.T) {
	resp := &health.Response{Status: health.Pass, Checks: map[string][]health.Check{
		"garage:responseTime": {{Status: health.Disabled, Output: "disabled"}},
	}}
	r := FromResponse(Report{Container: "c", State: "running", Engine: "starting"}, resp, 200)
	if r.Services[0].Status != "disabled" {
		t.Errorf("disabled service's status %q, want disabled", r.Services[0].Status)
	}
	st := iostreams.Styles{}
	if v := Verdict(r, st); v != "c: healthy (container running, engine check not run yet)" {
		t.Errorf("verdict %q", v)
	}
	r.Engine = ""
	if v := Verdict(r, st); !strings.Contains(v, "no engine healthcheck") {
		t.Errorf("verdict %q", v)
	}

	// A server that reads the request and closes without an answer: the EOF users saw. (It reads
	// the request first: closing with it unread would make the kernel reset the connection, a
	// different error, and which of the two came would depend on timing.)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			http.ReadRequest(bufio.NewReader(c))
			c.Close()
		}
	}()
	rep := Collect(context.Background(), engine.Container{Name: "c", State: "running", Running: true,
		Ports: []engine.PortBinding{{HostIP: "127.0.0.1", HostPort: ln.Addr().(*net.TCPAddr).Port, ContainerPort: 80}}}, engine.Endpoint{Host: "unix:///x"})
	if rep.Error != "the health server does not answer: it closed the connection without an answer" {
		t.Errorf("error %q", rep.Error)
	}
}

// TestStoppedVerdictSaysItOnce: a stopped container's verdict is "not running" with its exit code,
// not "not healthy (container exited, engine healthcheck: unhealthy): the container is exited".
func TestStoppedVerdictSaysItOnce(t *testing.T) {
	r := Collect(context.Background(), engine.Container{Name: "c", State: "exited", ExitCode: 0, Health: "unhealthy"}, engine.Endpoint{})
	if v := Verdict(r, iostreams.Styles{}); v != "c: not running (exited, exit code 0)" {
		t.Errorf("verdict %q", v)
	}
}

// TestRunWaitStatusIsSeparated: run's wait says what it waits for after a separator.
func TestRunWaitStatusIsSeparated(t *testing.T) {
	resp := &health.Response{Status: health.Fail, Checks: map[string][]health.Check{
		"postgres:responseTime": {{Status: health.Fail}}, "redis:responseTime": {{Status: health.Fail}},
		"garage:responseTime": {{Status: health.Disabled}}}}
	if got := waitStatus(resp, nil); got != "· not ready yet: postgres, redis" {
		t.Errorf("got %q", got)
	}
}
