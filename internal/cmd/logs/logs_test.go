package logs

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
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
	if err != nil || !o.Follow || o.Since != "10m" || o.Tail != "20" || !slices.Equal(o.Services, []string{"redis"}) {
		t.Fatalf("%+v %v", o, err)
	}
	o, err = parse("--service", "postgres,redis", "-s", "init")
	if err != nil || !slices.Equal(o.Services, []string{"postgres", "redis", "init"}) {
		t.Fatalf("--service postgres,redis -s init: %+v %v", o, err)
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
		{[]string{"--service", "redis,mysql"}, `invalid --service "mysql"`},
	} {
		_, err := parse(c.args...)
		var ee *cli.ExitError
		if !errors.As(err, &ee) || ee.Code != cli.ExitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want usage error with %q", c.args, err, c.want)
		}
	}
}

func TestJSONLinesOneObjectALineWithServiceAndTime(t *testing.T) {
	var buf bytes.Buffer
	out, errOut := newJSONLines(&buf)
	// One whole line a Write, as container.Logs writes them.
	out.Write([]byte("2024-05-01T10:00:00.123456789Z postgres | database system is ready to accept connections\n"))
	out.Write([]byte("2024-05-01T10:00:01Z no prefix \"quoted\"\n"))
	errOut.Write([]byte("2024-05-01T10:00:02Z redis | <b>warning</b>\r\n"))
	out.Write([]byte("init | last line without newline"))
	var got []Line
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var x Line
		if err := json.Unmarshal([]byte(l), &x); err != nil {
			t.Fatalf("not one JSON object a line: %q: %v", l, err)
		}
		got = append(got, x)
	}
	want := []Line{
		{Time: "2024-05-01T10:00:00.123456789Z", Stream: "stdout", Service: "postgres", Message: "database system is ready to accept connections"},
		{Time: "2024-05-01T10:00:01Z", Stream: "stdout", Message: `no prefix "quoted"`},
		{Time: "2024-05-01T10:00:02Z", Stream: "stderr", Service: "redis", Message: "<b>warning</b>"},
		{Stream: "stdout", Service: "init", Message: "last line without newline"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

// TestAlignedColouredPrefixes: every source's prefix is padded to the widest one shown, and
// coloured on a colour terminal only; lines without a known prefix pass as they are.
func TestAlignedColouredPrefixes(t *testing.T) {
	var plain, color bytes.Buffer
	a := newAligner(&plain, false, nil)
	for _, l := range []string{"redis | ready\n", "postgres | up\n", "2024-05-01T10:00:00.000000001Z init | go\n", "not a prefix | x\n"} {
		a.Write([]byte(l))
	}
	want := "redis    | ready\npostgres | up\n2024-05-01T10:00:00.000000001Z init     | go\nnot a prefix | x\n"
	if plain.String() != want {
		t.Fatalf("got %q, want %q", plain.String(), want)
	}
	newAligner(&color, true, []string{"redis"}).Write([]byte("redis | ready\n"))
	if color.String() != "\x1b[35mredis |\x1b[0m ready\n" {
		t.Fatalf("coloured: %q", color.String())
	}
}
