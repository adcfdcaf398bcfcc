package root

import (
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/testpeer"
)

// silentSocket is a Docker engine that is up but hung (or a proxy with nothing behind it).
func silentSocket(t *testing.T) string { return "unix://" + testpeer.SilentSocket(t) }

// TestEveryCommandGivesUpOnAnEngineThatNeverAnswers (issue 21 item 9): an engine that accepts the
// connection and never answers used to hang status, health, run and the rest forever. Each
// command now gives up within the engine's ping deadline with one line and exit 4.
func TestEveryCommandGivesUpOnAnEngineThatNeverAnswers(t *testing.T) {
	hosts := map[string]string{"unix": silentSocket(t), "tcp": "tcp://" + testpeer.Silent(t)}
	commands := [][]string{{"status"}, {"health"}, {"run", "--image", "nixify-stall-test:1"}, {"up", "--no-build"},
		{"start"}, {"restart"}, {"stop"}, {"clean", "--yes"}, {"logs"}, {"env"}, {"psql"}, {"redis-cli"},
		{"exec", "--", "true"}, {"shell"}}
	// The bound leaves room for a busy machine; the old code never returned at all. The commands
	// run at once (not as parallel subtests, which GOMAXPROCS would queue).
	bound := engine.DefaultTimeouts.Ping + 20*time.Second
	type outcome struct {
		name string
		r    result
	}
	done := make(chan outcome)
	n := 0
	for kind, host := range hosts {
		for _, args := range commands {
			if kind == "tcp" && args[0] != "status" && args[0] != "run" {
				continue // one socket kind proves the rest
			}
			n++
			name := kind + " " + strings.Join(args, " ")
			env := map[string]string{"DOCKER_HOST": host, "NIXIFY_CONTAINER": "nixify-stall-test", "NIXIFY_STATE_DIR": t.TempDir()}
			dir := t.TempDir()
			go func() { done <- outcome{name, run(t, env, dir, args...)} }()
		}
	}
	timeout := time.After(bound)
	for ; n > 0; n-- {
		select {
		case o := <-done:
			lines := strings.Split(strings.TrimSpace(o.r.errOut), "\n")
			if o.r.code != cli.ExitUnavailable || !strings.Contains(o.r.errOut, "gave no answer within") || len(lines) > 2 {
				t.Errorf("%s: exit %d, want %d with one line and a hint:\n%s", o.name, o.r.code, cli.ExitUnavailable, o.r.errOut)
			}
		case <-timeout:
			t.Fatalf("%d commands still waiting for the engine after %s", n, bound)
		}
	}
}
