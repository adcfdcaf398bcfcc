package exec

import (
	"slices"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cli/clitest"
	"github.com/nixify/nixify/internal/iostreams"
)

// TestFlags: exec takes docker exec's -e and -w; shell has them too and its own command; wrong
// values are one usage line.
func TestFlags(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	f := clitest.Factory(t, io)
	var got *Options
	err := clitest.Execute(NewCmdExec(f, func(o *Options) error { got = o; return nil }), "-e", "A=1", "--env", "B=x y", "-w", "/data", "-u", "postgres", "--", "ls", "-l")
	if err != nil || !slices.Equal(got.Env, []string{"A=1", "B=x y"}) || got.Dir != "/data" || got.User != "postgres" || !slices.Equal(got.Cmd, []string{"ls", "-l"}) {
		t.Fatalf("%+v %v", got, err)
	}
	if err := clitest.Execute(NewCmdShell(f, func(o *Options) error { got = o; return nil }), "-w", "/tmp"); err != nil || !slices.Equal(got.Cmd, []string{"/bin/sh"}) || got.Dir != "/tmp" {
		t.Fatalf("shell: %+v %v", got, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{}, "no command to run"},
		{[]string{"-e", "NOVALUE", "--", "true"}, `invalid --env "NOVALUE"`},
		{[]string{"-w", "data", "--", "true"}, `invalid --workdir "data": accepted: an absolute path`},
	} {
		err := clitest.Execute(NewCmdExec(f, func(o *Options) error { return nil }), c.args...)
		if cli.Code(err) != cli.ExitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want usage error with %q", c.args, err, c.want)
		}
	}
}
