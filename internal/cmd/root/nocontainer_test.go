package root

import (
	"crypto/rand"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/testpeer"
)

// TestNoContainerIsNotRunningForEveryCommand: scripts ask "is it up?" through any of these
// commands; with no container at all each answers the same way, exit 3 (not running) and one line
// naming the container, never 1 as for a failed operation.
func TestNoContainerIsNotRunningForEveryCommand(t *testing.T) {
	testpeer.Engine(t)
	name := "nixify-absent-" + strings.ToLower(rand.Text()[:10])
	env := map[string]string{"NIXIFY_CONTAINER": name}
	for _, args := range [][]string{{"health"}, {"status"}, {"logs"}, {"stop"}, {"start"}, {"restart"},
		{"env"}, {"psql"}, {"redis-cli"}, {"exec", "--", "true"}} {
		r := run(t, env, t.TempDir(), args...)
		if r.code != cli.ExitUnhealthy || !strings.Contains(r.errOut, `no container "`+name+`"`) {
			t.Errorf("%s: exit %d, want %d\n%s", args[0], r.code, cli.ExitUnhealthy, r.errOut)
		}
	}
}
