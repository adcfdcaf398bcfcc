package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/testpeer"
)

// followLogs copies the container's whole log, following it until the container stops and is
// removed; the returned function waits for the end (bounded) and returns what was logged.
func followLogs(t *testing.T, eng engine.Engine, id string) func() string {
	t.Helper()
	var buf testpeer.Buffer
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { done <- eng.ContainerLogs(ctx, id, engine.LogOptions{Follow: true}, &buf, &buf) }()
	return func() string {
		t.Helper()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			t.Fatalf("the old container's log did not end")
		}
		return buf.String()
	}
}

// assertCleanShutdown checks a container's whole log for the init's ordered shutdown: the stop was
// asked for (SIGTERM, not SIGKILL) and PostgreSQL and Redis each stopped with status 0.
func assertCleanShutdown(t *testing.T, what, log string) {
	t.Helper()
	for _, want := range []string{"stop requested; stopping services in reverse order", "postgres stopped (exit status 0)", "redis stopped (exit status 0)"} {
		if !strings.Contains(log, want) {
			t.Errorf("%s: the old container's log lacks %q: it was not stopped in order\n%s", what, want, lastLines(log, 15))
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestReplaceAndCleanStopInOrder (issue 21 item 7): `run --replace` and `clean` used to remove a
// running container with SIGKILL, and PostgreSQL's next start logged "not properly shut down;
// automatic recovery in progress". Both now stop it as `nixify stop` does first.
func TestReplaceAndCleanStopInOrder(t *testing.T) {
	eng := testpeer.Engine(t)
	img := fullImage(t)
	e := newEnv(t)
	e.removeAfter(eng, img)
	ctx := context.Background()
	run := []string{"run", "--tar", img.path, "--timeout", "90s", "-e", "REDIS_PASSWORD=" + redisPassword}
	if r := e.nixify(run...); r.code != 0 {
		t.Fatalf("run: exit %d", r.code)
	}
	psql(t, eng, e.container, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)")
	old, err := eng.ContainerInspect(ctx, e.container)
	if err != nil {
		t.Fatal(err)
	}
	oldLog := followLogs(t, eng, old.ID)
	r := e.nixify(append(run, "--replace")...)
	if r.code != 0 {
		t.Fatalf("run --replace: exit %d", r.code)
	}
	if !strings.Contains(r.errOut, "replaced "+e.container) || !strings.Contains(r.errOut, "stopped in order") {
		t.Errorf("run --replace does not say what it replaced and how:\n%s", r.errOut)
	}
	assertCleanShutdown(t, "run --replace", oldLog())
	var newLog testpeer.Buffer
	if err := eng.ContainerLogs(ctx, e.container, engine.LogOptions{}, &newLog, &newLog); err != nil {
		t.Fatal(err)
	}
	if s := newLog.String(); strings.Contains(s, "not properly shut down") || strings.Contains(s, "automatic recovery") {
		t.Errorf("PostgreSQL recovered from a crash after run --replace:\n%s", lastLines(s, 20))
	}
	if got := psql(t, eng, e.container, "SELECT count(*) FROM kept"); got != "1" {
		t.Fatalf("rows after replace: %s", got)
	}

	cur, err := eng.ContainerInspect(ctx, e.container)
	if err != nil {
		t.Fatal(err)
	}
	curLog := followLogs(t, eng, cur.ID)
	if r := e.nixify("clean"); r.code != 0 {
		t.Fatalf("clean: exit %d", r.code)
	}
	assertCleanShutdown(t, "clean", curLog())
}
