package run

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cli/clitest"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
)

func parse(t *testing.T, args ...string) (*Options, error) {
	t.Helper()
	io, _, _, _ := iostreams.Test()
	f := clitest.Factory(t, io)
	var got *Options
	err := clitest.Execute(NewCmdRun(f, func(o *Options) error { got = o; return nil }), args...)
	return got, err
}

func TestFlags(t *testing.T) {
	o, err := parse(t, "--arch", "arm64", "-e", "A=1", "--env", "B=x=y", "--replace", "--tar", "img.tar")
	if err != nil {
		t.Fatal(err)
	}
	if o.Arch != "aarch64" || len(o.Env) != 2 || o.Env[1] != "B=x=y" || !o.Replace || o.Tar != "img.tar" {
		t.Fatalf("%+v", o)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--arch", "mips"}, `invalid argument "mips" for "--arch" flag: unknown architecture "mips": accepted: x86_64 (alias amd64), aarch64 (alias arm64)`},
		{[]string{"--arch", "all"}, `this command runs one image`},
		{[]string{"--image", "a", "--tar", "b"}, "--image and --tar both name an image"},
		{[]string{"-e", "NOVALUE"}, `invalid --env "(7 characters, not shown)": accepted: KEY=VALUE`},
		{[]string{"-e", "=x"}, `invalid --env "=…"`},
		{[]string{"-e", "s3cret value"}, `invalid --env "(12 characters, not shown)"`},
		{[]string{"--timeout", "0s"}, "invalid --timeout 0s"},
		{[]string{"--stop-timeout", "10ms"}, "invalid --stop-timeout 10ms"},
		{[]string{"--publish", "postgres,postgres=18433"}, `invalid --publish: postgres is named twice ("postgres" and "postgres=18433")`},
		{[]string{"--publish", "redis=1", "--publish", "redis"}, `invalid --publish: redis is named twice`},
	} {
		_, err := parse(t, c.args...)
		var ee *cli.ExitError
		if !errors.As(err, &ee) || ee.Code != cli.ExitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want usage error with %q", c.args, err, c.want)
		}
	}
}

func TestLongEnvValuesAreNotEchoed(t *testing.T) {
	_, err := parse(t, "-e", "SECRETVALUEWITHOUTANEQUALSSIGN1234567890")
	if err == nil || strings.Contains(err.Error(), "1234567890") {
		t.Fatalf("err = %v", err)
	}
}

func TestPublishFlagIsValidatedWithTheConfiguration(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	f := clitest.Factory(t, io)
	cmd := NewCmdRun(f, func(o *Options) error { _, err := o.Config(); return err })
	cmd.SetArgs([]string{"--publish", "postgres=15432,redis", "--publish", "s3"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	l, _ := f.Config()
	if len(l.Config.Publish) != 3 || l.Config.Publish[0].HostPort != 15432 {
		t.Fatalf("publish: %+v", l.Config.Publish)
	}
	f = clitest.Factory(t, io)
	cmd = NewCmdRun(f, func(o *Options) error { _, err := o.Config(); return err })
	cmd.SetArgs([]string{"--publish", "mysql"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	var ee *cli.ExitError
	if err := cmd.Execute(); !errors.As(err, &ee) || ee.Code != cli.ExitUsage || !strings.Contains(err.Error(), `invalid publish "mysql" (flag --publish)`) {
		t.Fatalf("--publish mysql: %v", err)
	}
}

// TestOneStopTimeout (issue 23): run said 10 s and restart 15 s. One default, recorded in the
// container; stop and restart use the container's own unless told otherwise.
func TestOneStopTimeout(t *testing.T) {
	o, err := parse(t)
	if err != nil || o.StopTimeout != container.DefaultStopTimeout {
		t.Fatalf("run's --stop-timeout default: %v %v, want %s", o.StopTimeout, err, container.DefaultStopTimeout)
	}
	if got := container.StopTimeoutOf(engine.Container{}); got != container.DefaultStopTimeout {
		t.Errorf("a container with none recorded: %s", got)
	}
	if got := container.StopTimeoutOf(engine.Container{StopTimeout: 40 * time.Second}); got != 40*time.Second {
		t.Errorf("a container with 40s recorded: %s", got)
	}
}
