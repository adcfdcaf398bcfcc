package stop

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cli/clitest"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/iostreams"
)

func TestFlags(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	f := clitest.Factory(t, io)
	var got *Options
	cmd := NewCmdStop(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--timeout", "30s"})
	if err := cmd.Execute(); err != nil || got.Timeout != 30*time.Second {
		t.Fatalf("%+v %v", got, err)
	}
	cmd = NewCmdStop(f, func(o *Options) error { return nil })
	cmd.SetArgs([]string{"--timeout", "100ms"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	var ee *cli.ExitError
	if err := cmd.Execute(); !errors.As(err, &ee) || ee.Code != cli.ExitUsage {
		t.Fatalf("--timeout 100ms: %v", err)
	}
}

// TestJSONSaysContainer (issue 23): stop -o json names the container "container", as every
// other command does (it said "name").
func TestJSONSaysContainer(t *testing.T) {
	b, err := json.Marshal(container.Stopped{Container: "c", WasRunning: true})
	if err != nil || !strings.Contains(string(b), `"container":"c"`) || strings.Contains(string(b), `"name"`) {
		t.Fatalf("%s %v", b, err)
	}
}
