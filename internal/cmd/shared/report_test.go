package shared

import (
	"strings"
	"testing"

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
