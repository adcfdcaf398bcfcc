package logs

import (
	"errors"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cli/clitest"
	"github.com/nixify/nixify/internal/iostreams"
)

func TestFlags(t *testing.T) {
	parse := func(args ...string) (*Options, error) {
		io, _, _, _ := iostreams.Test()
		f := clitest.Factory(t, io)
		var got *Options
		err := clitest.Execute(NewCmdLogs(f, func(o *Options) error { got = o; return nil }), args...)
		return got, err
	}
	o, err := parse("-f", "--since", "10m", "-n", "20", "--service", "redis")
	if err != nil || !o.Follow || o.Since != "10m" || o.Tail != "20" || o.Service != "redis" {
		t.Fatalf("%+v %v", o, err)
	}
	for _, ok := range []string{"2024-05-01T10:00:00Z", "1714557600", "1h30m"} {
		if _, err := parse("--since", ok); err != nil {
			t.Errorf("--since %s: %v", ok, err)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tail", "-3"}, `invalid --tail "-3"`},
		{[]string{"--tail", "many"}, `invalid --tail "many"`},
		{[]string{"--since", "yesterday"}, `invalid --since "yesterday"`},
		{[]string{"--service", "mysql"}, `invalid --service "mysql": accepted: postgres, redis, garage, health, init`},
	} {
		_, err := parse(c.args...)
		var ee *cli.ExitError
		if !errors.As(err, &ee) || ee.Code != cli.ExitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want usage error with %q", c.args, err, c.want)
		}
	}
}
