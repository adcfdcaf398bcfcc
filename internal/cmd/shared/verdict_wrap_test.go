package shared

import (
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/nixify/nixify/internal/iostreams"
)

// The bug: the verdict line ("nc-user: healthy (container running, the engine's healthcheck has
// not reported yet)") was wrapped by an 80-column terminal mid-word. On a terminal it wraps
// between words; piped it stays one line.
func TestVerdictWrapsBetweenWordsOnATerminal(t *testing.T) {
	r := Report{Container: "nixify-health-check", State: "running", Healthy: false,
		Error: "GET http://127.0.0.1:8080/health: connection refused by the health server in the container"}
	io, _, out, _ := iostreams.Test()
	io.SetTTY(true)
	io.DisableColor()
	io.SetWidth(60)
	if err := PrintHealth(io, r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	for _, l := range lines {
		if lipgloss.Width(l) > 59 {
			t.Fatalf("a line wider than the terminal: %q\n%s", l, out)
		}
	}
	v := Verdict(r, io.Styles())
	if got := strings.Fields(out.String()); !strings.Contains(strings.Join(got, " "), strings.Join(strings.Fields(v), " ")) {
		t.Fatalf("the verdict lost words:\n%s", out)
	}
	for _, l := range HealthLines(io, r) {
		if lipgloss.Width(l) > 59 {
			t.Fatalf("a live line wider than the terminal: %q", l)
		}
	}
	io, _, out, _ = iostreams.Test()
	PrintHealth(io, r)
	if got := strings.TrimRight(out.String(), "\n"); got != v {
		t.Fatalf("piped: %q, want the verdict on one line %q", got, v)
	}
}
