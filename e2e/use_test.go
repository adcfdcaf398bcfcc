package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixify/nixify/e2e/testimage"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/testpeer"
)

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

// nixifyBinary builds the nixify CLI once per test run, for the tests that need a real process
// (under a pseudo-terminal).
func nixifyBinary(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		cliPath, cliErr = testimage.BuildStatic(moduleRoot(t), "./cmd/nixify", "amd64", filepath.Join(workDir, "nixify"))
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	return cliPath
}

// underTTY runs nixify with args under a pseudo-terminal (util-linux script) and returns what the
// terminal showed and the exit code.
func (e *env) underTTY(t *testing.T, args ...string) (string, int) {
	t.Helper()
	script := testpeer.Binary(t, "script")
	line := nixifyBinary(t)
	for _, a := range args {
		line += " " + shellQuote(a)
	}
	cmd := exec.Command(script, "-qec", line, "/dev/null")
	cmd.Env = os.Environ()
	for k, v := range e.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Dir = e.stateDir
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("(tty) nixify %s: exit %d\n%s", strings.Join(args, " "), code, out)
	return string(out), code
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestUseWhatRunsInside is issue 13's scenario: publish PostgreSQL and Redis, connect from the host
// with Debian's psql and redis-cli through `nixify env`, use psql and redis-cli through nixify
// piped and under a terminal, and follow the container through status, stop, run (which starts
// the stopped container again), start, restart and a killed service; the data stays throughout.
func TestUseWhatRunsInside(t *testing.T) {
	eng := testpeer.Engine(t)
	img := fullImage(t)
	hostPsql := testpeer.Binary(t, "psql")
	hostRedis := testpeer.Binary(t, "redis-cli")
	e := newEnv(t)
	e.removeAfter(eng, img)
	ctx := context.Background()
	pgPort, redisPort := testpeer.FreePort(t), testpeer.FreePort(t)
	// A password with every character a shell, a URL and a dotenv file treat specially.
	pgPassword := `p'a"ss $x\y:@/%`
	run := []string{"run", "--tar", img.path, "--timeout", "90s", "--publish", fmt.Sprintf("postgres=%d,redis=%d", pgPort, redisPort),
		"-e", "POSTGRES_PASSWORD=" + pgPassword}

	r := e.nixify(run...)
	if r.code != 0 {
		t.Fatalf("run --publish: exit %d\n%s", r.code, r.errOut)
	}
	for _, want := range []string{fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres", pgPort), fmt.Sprintf("redis://127.0.0.1:%d", redisPort)} {
		if !strings.Contains(r.out, want) {
			t.Errorf("run does not say how to connect: %q missing", want)
		}
	}
	if strings.Contains(r.out+r.errOut, pgPassword) {
		t.Fatal("run printed the password")
	}

	// nixify env, eval'd by a shell, then the host's own clients.
	r = e.nixify("env")
	if r.code != 0 {
		t.Fatalf("env: exit %d", r.code)
	}
	// psql takes PG*; redis-cli takes REDIS_URL, or the port with REDISCLI_AUTH.
	check := fmt.Sprintf(`eval "$1" && %s -tA -c 'select 1' && %s -u "$REDIS_URL" ping && %s -p %d ping && test "$PGPASSWORD" = "$2"`,
		hostPsql, hostRedis, hostRedis, redisPort)
	out, err := exec.Command("/bin/sh", "-c", check, "sh", r.out, pgPassword).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "1\n") || !strings.Contains(string(out), "PONG") {
		t.Fatalf("eval \"$(nixify env)\" then psql and redis-cli from the host: %v\n%s", err, out)
	}
	r = e.nixify("env", "--format", "json")
	var vars map[string]string
	if err := json.Unmarshal([]byte(r.out), &vars); err != nil || vars["PGPASSWORD"] != pgPassword || vars["PGPORT"] != fmt.Sprint(pgPort) {
		t.Fatalf("env --format json: %v %v", vars, err)
	}

	// psql and redis-cli through nixify, piped.
	r = e.nixifyIn("CREATE TABLE kept (n int); INSERT INTO kept VALUES (7);\nSELECT sum(n) FROM kept;\n", "psql", "--", "-tA", "-v", "ON_ERROR_STOP=1")
	if r.code != 0 || strings.TrimSpace(lastLine(r.out)) != "7" {
		t.Fatalf("echo ... | nixify psql: exit %d, %q", r.code, r.out)
	}
	r = e.nixifyIn("SET k v\nGET k\n", "redis-cli")
	if r.code != 0 || !strings.Contains(r.out, "OK") || !strings.Contains(r.out, "v") {
		t.Fatalf("echo ... | nixify redis-cli: exit %d, %q", r.code, r.out)
	}
	r = e.nixify("psql", "--", "-c", "select nope")
	if r.code != 1 || !strings.Contains(r.errOut, "nope") {
		t.Fatalf("psql's failure passes its exit code through: exit %d, %q", r.code, r.errOut)
	}
	r = e.nixify("exec", "--user", "postgres", "--", "sh", "-c", "id -un; exit 3")
	if r.code != 3 || !strings.Contains(r.out, "postgres") {
		t.Fatalf("exec --user: exit %d, %q", r.code, r.out)
	}

	// Under a terminal: the client gets a TTY and its exit code is nixify's.
	shown, code := e.underTTY(t, "psql", "--", "-c", "select 40+2 as answer")
	if code != 0 || !strings.Contains(shown, "42") || !strings.Contains(shown, "answer") {
		t.Fatalf("psql under a terminal: exit %d\n%s", code, shown)
	}
	shown, code = e.underTTY(t, "exec", "--", "sh", "-c", "test -t 0 && test -t 1 && echo tty-ok; exit 5")
	if code != 5 || !strings.Contains(shown, "tty-ok") {
		t.Fatalf("exec under a terminal: exit %d\n%s", code, shown)
	}
	shown, code = e.underTTY(t, "redis-cli", "--", "get", "k")
	if code != 0 || !strings.Contains(shown, "v") {
		t.Fatalf("redis-cli under a terminal: exit %d\n%s", code, shown)
	}

	// status while running.
	r = e.nixify("status", "-o", "json")
	var st struct {
		State         string  `json:"state"`
		UptimeSeconds float64 `json:"uptimeSeconds"`
		Published     []struct {
			Service string `json:"service"`
			Port    int    `json:"port"`
		} `json:"published"`
		Health struct {
			Healthy  bool `json:"healthy"`
			Services []struct {
				Name     string `json:"name"`
				Restarts int    `json:"restarts"`
			} `json:"services"`
		} `json:"health"`
	}
	if err := json.Unmarshal([]byte(r.out), &st); r.code != 0 || err != nil || st.State != "running" || !st.Health.Healthy || len(st.Published) != 2 || st.Published[0].Port != pgPort {
		t.Fatalf("status -o json: exit %d %v\n%s", r.code, err, r.out)
	}
	if r = e.nixify("ps"); r.code != 0 || !strings.Contains(r.out, "running for") {
		t.Fatalf("ps: exit %d\n%s", r.code, r.out)
	}

	// A second run while it runs: it is there already, exit 0, as start says it (issue 23).
	if r = e.nixify(run...); r.code != 0 || !strings.Contains(r.errOut, "is running already") {
		t.Fatalf("run while running: exit %d, %q", r.code, r.errOut)
	}

	// Stop; status says so; run starts the stopped container again, with its data.
	if r = e.nixify("stop"); r.code != 0 {
		t.Fatalf("stop: exit %d", r.code)
	}
	if r = e.nixify("status"); r.code != cli.ExitUnhealthy || !strings.Contains(r.out, "exited") {
		t.Fatalf("status after stop: exit %d\n%s", r.code, r.out)
	}
	before, _ := eng.ContainerInspect(ctx, e.container)
	r = e.nixify(run...)
	if r.code != 0 || !strings.Contains(r.errOut, "starting the stopped "+e.container+" again") {
		t.Fatalf("run after stop: exit %d\n%s", r.code, r.errOut)
	}
	if after, _ := eng.ContainerInspect(ctx, e.container); after.ID != before.ID {
		t.Fatal("run after stop made a new container instead of starting the stopped one")
	}
	if got := e.nixify("psql", "--", "-tA", "-c", "select sum(n) from kept"); strings.TrimSpace(got.out) != "7" {
		t.Fatalf("data after stop and run: %q", got.out)
	}

	// stop, start: the data stays.
	e.nixify("stop")
	if r = e.nixify("start", "--timeout", "90s"); r.code != 0 || !strings.Contains(r.out, "is healthy") {
		t.Fatalf("start: exit %d\n%s", r.code, r.errOut)
	}
	if got := e.nixify("psql", "--", "-tA", "-c", "select sum(n) from kept"); strings.TrimSpace(got.out) != "7" {
		t.Fatalf("data after stop and start: %q", got.out)
	}
	if r = e.nixify("restart", "--timeout", "90s"); r.code != 0 || !strings.Contains(r.errOut, "stopped, exit code 0") {
		t.Fatalf("restart: exit %d\n%s", r.code, r.errOut)
	}
	if got := e.nixify("redis-cli", "--", "get", "k"); strings.TrimSpace(got.out) != "v" {
		t.Fatalf("redis data after restart: %q", got.out)
	}

	// A killed service: the init restarts it, and status comes back healthy with the restart
	// counted.
	inside(t, eng, e.container, "/bin/sh", "-c", "kill -9 $(pidof redis-server)")
	deadline := time.Now().Add(60 * time.Second)
	redisRestarts := func() int {
		for _, s := range st.Health.Services {
			if s.Name == "redis" {
				return s.Restarts
			}
		}
		return -1
	}
	for {
		r = e.nixify("status", "-o", "json")
		json.Unmarshal([]byte(r.out), &st)
		if r.code == 0 && st.Health.Healthy && redisRestarts() >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status after redis was killed: exit %d, redis restarts %d\n%s", r.code, redisRestarts(), r.out)
		}
		time.Sleep(300 * time.Millisecond)
	}

	// --replace that cannot succeed (a published port is taken) leaves the running container alone.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	running, _ := eng.ContainerInspect(ctx, e.container)
	r = e.nixify("run", "--tar", img.path, "--replace", "--publish", fmt.Sprintf("postgres=%d", taken))
	if r.code != cli.ExitFailure || !strings.Contains(r.errOut, fmt.Sprintf("cannot publish port %d", taken)) {
		t.Fatalf("--replace onto a taken port: exit %d, %q", r.code, r.errOut)
	}
	if now, err := eng.ContainerInspect(ctx, e.container); err != nil || now.ID != running.ID || !now.Running {
		t.Fatalf("a refused --replace removed or stopped the running container: %v", err)
	}

	// --replace with an environment the init would refuse is exit 2 before anything changes.
	r = e.nixify("run", "--tar", img.path, "--replace", "-e", "REDIS_PORT=0")
	if r.code != cli.ExitUsage || !strings.Contains(r.errOut, `REDIS_PORT="0" is not a port`) {
		t.Fatalf("--replace with a bad environment: exit %d, %q", r.code, r.errOut)
	}
	if now, err := eng.ContainerInspect(ctx, e.container); err != nil || now.ID != running.ID || !now.Running {
		t.Fatalf("a refused --replace removed or stopped the running container: %v", err)
	}

	// Another configuration on the same volume is refused, naming the container that uses it.
	other := newEnv(t)
	other.vars["NIXIFY_VOLUME"] = e.volume
	other.removeAfter(eng, img)
	r = other.nixify("run", "--tar", img.path, "--timeout", "90s")
	if r.code != cli.ExitFailure || !strings.Contains(r.errOut, fmt.Sprintf("volume %q is in use by the running container %s", e.volume, e.container)) {
		t.Fatalf("second container on the same volume: exit %d, %q", r.code, r.errOut)
	}
	if _, err := eng.ContainerInspect(ctx, other.container); !errors.Is(err, engine.ErrNotFound) {
		t.Fatal("a refused run created its container")
	}

	// What run loaded is found by clean --images after the container is gone (no build records).
	if err := eng.ContainerRemove(ctx, e.container); err != nil {
		t.Fatal(err)
	}
	r = e.nixify("clean", "--images", "--dry-run", "-o", "json")
	if r.code != 0 || !strings.Contains(r.out, img.digest) {
		t.Fatalf("clean --images after the container was replaced: exit %d\n%s", r.code, r.out)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
