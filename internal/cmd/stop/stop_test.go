package stop

import (
	"errors"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cli/clitest"
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
