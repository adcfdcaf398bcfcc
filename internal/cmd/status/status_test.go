package status

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/pkg/health"
)

func TestPrintSaysStateUptimeBuildAndServices(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s := Status{Container: "c", State: "running", Running: true, StartedAt: now.Add(-90 * time.Minute),
		Image: "sha256:0123456789abcdef", ImageNames: []string{"img:x86_64-0123456789ab", "nixify-health-check:abc"},
		Build: &Build{Arch: "x86_64", FlakeRevision: "d00dfeed", BuiltAt: now.Add(-3 * time.Hour)},
		Ports: []engine.PortBinding{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80},
			{HostIP: "127.0.0.1", HostPort: 3900, ContainerPort: 3900}, {HostIP: "127.0.0.1", HostPort: 5432, ContainerPort: 5432},
			{HostIP: "127.0.0.1", HostPort: 16379, ContainerPort: 6379}},
		Published: []shared.Connection{{Service: "postgres", URL: "postgres://app@127.0.0.1:5432/app", Running: true},
			{Service: "s3", URL: "http://127.0.0.1:3900", Region: "garage", Bucket: "nixify"}},
		Health: shared.Report{Container: "c", State: "running", Healthy: true, Services: []shared.ServiceReport{
			{Name: "garage", Status: health.Disabled, Disabled: true},
			{Name: "redis", Status: health.Pass, State: "running", Since: now.Add(-2 * time.Minute), Restarts: 2, LatencySeconds: 0.0004},
		}},
	}
	io, _, out, _ := iostreams.Test()
	Print(io, s, now)
	for _, want := range []string{
		"container: c running for 1h30m", "image:     0123456789ab (nixify-health-check:abc)",
		"build:     x86_64, d00dfeed, built 3h0m ago", "ports:     127.0.0.1: 8080->80, 3900->3900, 5432->5432, 16379->6379\n",
		"s3        http://127.0.0.1:3900 (region garage, bucket nixify) (not running)\n",
		"postgres://app@127.0.0.1:5432/app", "garage\tdisabled\t\t-\t0\t-", "redis\tpass\trunning\t2m\t2\t0.4ms",
		"c: healthy",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
	// Lines for a person fit an 80-column terminal (the services' table is tab-separated here).
	for _, l := range strings.Split(out.String(), "\n") {
		if !strings.Contains(l, "\t") && len([]rune(l)) > 80 {
			t.Errorf("%d columns: %q", len([]rune(l)), l)
		}
	}
}

func TestJSONHasSecondsAndEmptyLists(t *testing.T) {
	io, _, out, _ := iostreams.Test()
	io.WriteJSON(Status{Container: "c", State: "exited", ImageNames: []string{}, Ports: []engine.PortBinding{}, Published: []shared.Connection{},
		Health: shared.Report{Services: []shared.ServiceReport{}}})
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["uptimeSeconds"]; !ok {
		t.Errorf("no uptimeSeconds: %s", out.String())
	}
	for _, k := range []string{"ports", "published", "imageNames"} {
		if l, ok := m[k].([]any); !ok || len(l) != 0 {
			t.Errorf("%s = %v, want []", k, m[k])
		}
	}
}

func TestAgo(t *testing.T) {
	for d, want := range map[time.Duration]string{45 * time.Second: "45s", 12 * time.Minute: "12m", 185 * time.Minute: "3h5m", 52 * time.Hour: "2d4h"} {
		if got := Ago(d); got != want {
			t.Errorf("Ago(%s) = %s, want %s", d, got, want)
		}
	}
}

// TestStoppedListsNoAddresses (issue 23): a stopped container's connect URLs answer nothing, so
// status does not list them; and JSON names the architecture as info does.
func TestStoppedListsNoAddresses(t *testing.T) {
	s := Status{Container: "c", State: "exited", ExitCode: 0, Image: "sha256:01", Architecture: "amd64",
		Build:     &Build{Arch: "x86_64", Architecture: "amd64"},
		Published: []shared.Connection{{Service: "postgres", URL: "postgres://app@127.0.0.1:5432/app", Running: true}}}
	io, _, out, _ := iostreams.Test()
	Print(io, s, time.Now())
	if strings.Contains(out.String(), "connect:") || strings.Contains(out.String(), "postgres://") {
		t.Errorf("a stopped container's status lists connect URLs:\n%s", out.String())
	}
	io, _, out, _ = iostreams.Test()
	io.WriteJSON(s)
	if !strings.Contains(out.String(), `"architecture": "amd64"`) || strings.Contains(out.String(), `"arch"`) {
		t.Errorf("JSON architecture: %s", out.String())
	}
}
