package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixify/nixify/e2e/testimage"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/testpeer"
)

// oneLine checks that a failure said one "nixify:" line (and at most a hint) after its progress
// lines, nothing raw.
func oneLine(t *testing.T, what string, r result, code int, want string) {
	t.Helper()
	errOut := r.errOut
	if i := strings.Index(errOut, "nixify: "); i >= 0 {
		errOut = errOut[i:]
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if r.code != code || !strings.HasPrefix(lines[0], "nixify: ") || !strings.Contains(lines[0], want) || len(lines) > 2 ||
		(len(lines) == 2 && !strings.HasPrefix(lines[1], "hint: ")) {
		t.Errorf("%s: exit %d (want %d), want one line with %q:\n%s", what, r.code, code, want, r.errOut)
	}
}

// TestDayTwo is issue 23's "one convention everywhere" on the real container: exit codes that
// agree, errors that are nixify's one line, exec's -e and -w, health and logs by service, and
// env's own example working with Redis published on another port than 6379.
func TestDayTwo(t *testing.T) {
	eng := testpeer.Engine(t)
	img := fullImage(t)
	e := newEnv(t)
	e.removeAfter(eng, img)
	pgPort, redisPort := testpeer.FreePort(t), testpeer.FreePort(t)
	run := []string{"run", "--tar", img.path, "--timeout", "90s", "-e", "REDIS_PASSWORD=" + redisPassword,
		"--publish", fmt.Sprintf("postgres=%d,redis=%d", pgPort, redisPort)}

	// A port asked for twice is the user's input contradicting itself: exit 2, before anything.
	r := e.nixify("run", "--tar", img.path, "--publish", fmt.Sprintf("postgres=%d", e.port))
	oneLine(t, "run --publish postgres=<health port>", r, cli.ExitUsage, "asked for twice")
	r = e.nixify("run", "--tar", img.path, "--publish", "postgres,postgres=18433")
	oneLine(t, "run --publish postgres,postgres=18433", r, cli.ExitUsage, "postgres is named twice")

	r = e.nixify(run...)
	if r.code != 0 {
		t.Fatalf("run: exit %d", r.code)
	}
	if n := strings.Count(r.out+r.errOut, "healthy"); n != 2 || strings.Contains(r.errOut, "healthy waiting") {
		// "is healthy at" once, and the verdict under the table; no "waiting ... healthy" line.
		t.Errorf("run says healthy %d times (want 2: the result and the verdict):\n%s%s", n, r.out, r.errOut)
	}
	if strings.Contains(r.out, "engine healthcheck: starting") {
		t.Errorf("run's verdict reads as a contradiction:\n%s", r.out)
	}
	// run twice agrees with start twice: the state asked for holds, exit 0.
	r = e.nixify(run...)
	if r.code != 0 || !strings.Contains(r.errOut, "is running already") {
		t.Errorf("second run of the same container: exit %d\n%s", r.code, r.errOut)
	}
	if r = e.nixify("start"); r.code != 0 {
		t.Errorf("start of the running container: exit %d", r.code)
	}
	// Other settings while it runs: refused, pointing at --replace.
	r = e.nixify(append(run[:len(run)-2], "--publish", fmt.Sprintf("postgres=%d", pgPort))...)
	oneLine(t, "run with other ports while running", r, cli.ExitFailure, "container exists")
	if !strings.Contains(r.errOut, "--replace") {
		t.Errorf("no --replace hint:\n%s", r.errOut)
	}

	// exec: a missing program is one line and 127, as a shell says it; no command is a usage line.
	r = e.nixify("exec", "--", "nosuchcmd")
	oneLine(t, "exec -- nosuchcmd", r, 127, `cannot run "nosuchcmd" in the container: executable file not found`)
	if strings.Contains(r.out+r.errOut, "OCI runtime") {
		t.Errorf("exec shows the runtime's raw error:\n%s%s", r.out, r.errOut)
	}
	oneLine(t, "exec", e.nixify("exec"), cli.ExitUsage, "no command to run")
	oneLine(t, "exec ls -l", e.nixify("exec", "ls", "-l"), cli.ExitUsage, "go after --")
	r = e.nixify("exec", "-e", "GREETING=hi there", "-w", "/data", "--", "/bin/sh", "-c", `echo "$GREETING"; pwd`)
	if r.code != 0 || r.out != "hi there\n/data\n" {
		t.Errorf("exec -e -w: exit %d, %q", r.code, r.out)
	}

	// psql's own flags before -- point at --; after it they work.
	r = e.nixify("psql", "-c", "select 2")
	oneLine(t, "psql -c", r, cli.ExitUsage, "psql's own flags go after --")
	if !strings.Contains(r.errOut, "nixify psql -- -c") {
		t.Errorf("psql -c: the hint does not show --:\n%s", r.errOut)
	}
	if r = e.nixify("psql", "--", "-tA", "-c", "select 2"); r.code != 0 || strings.TrimSpace(r.out) != "2" {
		t.Errorf("psql -- -tA -c 'select 2': exit %d, %q", r.code, r.out)
	}

	// health takes service names.
	if r = e.nixify("health", "postgres"); r.code != 0 || !strings.Contains(r.out, "postgres") || strings.Contains(r.out, "redis") {
		t.Errorf("health postgres: exit %d\n%s", r.code, r.out)
	}
	if r = e.nixify("health", "garage"); r.code != cli.ExitUnhealthy || !strings.Contains(r.out, "garage\tdisabled") {
		t.Errorf("health garage (disabled): exit %d\n%s", r.code, r.out)
	}

	// env's own example, for real, with Redis on another port than 6379: the host's psql and
	// redis-cli read what env exports.
	bin := nixifyBinary(t)
	for _, example := range []string{
		`eval "$(nixify env)" && psql -tA -c 'select 1'`,
		`eval "$(nixify env)" && redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping`,
	} {
		out, err := e.shell(t, bin, example)
		if err != nil || (strings.TrimSpace(out) != "1" && strings.TrimSpace(out) != "PONG") {
			t.Errorf("env's example %s: %v\n%s", example, err, out)
		}
	}
	help := e.nixify("env", "--help")
	for _, example := range []string{`redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping`, `psql -c 'select 1'`} {
		if !strings.Contains(help.out, example) {
			t.Errorf("env --help does not show the example tried here: %s", example)
		}
	}

	// logs -f --tail 3 --service postgres shows postgres's last 3 lines (it showed nothing: the
	// engine counted the tail before the filter), aligned; Ctrl-C is exit 130.
	r = e.nixify("logs", "--tail", "5")
	if r.code != 0 || !strings.Contains(r.out, "init     | ") {
		t.Errorf("logs: prefixes not aligned to the widest source:\n%s", r.out)
	}
	cmd := exec.Command(bin, "logs", "-f", "--tail", "3", "--service", "postgres")
	cmd.Env = e.environ()
	var out, errOut testpeer.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(out.String(), "\n") < 3 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != cli.ExitInterrupted {
		t.Errorf("logs -f after Ctrl-C: %v, want exit %d\n%s", err, cli.ExitInterrupted, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, l := range lines {
		if !strings.HasPrefix(l, "postgres | ") {
			t.Errorf("logs -f --service postgres let through %q", l)
		}
	}
	if len(lines) != 3 {
		t.Errorf("logs -f --tail 3 --service postgres: %d lines, want 3:\n%s", len(lines), out.String())
	}

	// Stopped: status lists no addresses that answer nothing; env is "not running", exit 3.
	if r = e.nixify("stop"); r.code != 0 {
		t.Fatalf("stop: exit %d", r.code)
	}
	r = e.nixify("status")
	if r.code != cli.ExitUnhealthy || strings.Contains(r.out, "postgres://") {
		t.Errorf("status of a stopped container: exit %d\n%s", r.code, r.out)
	}
	oneLine(t, "env of a stopped container", e.nixify("env"), cli.ExitUnhealthy, "is not running")
}

// environ is the process environment for the nixify binary with the env's variables.
func (e *env) environ() []string {
	env := os.Environ()
	for k, v := range e.vars {
		env = append(env, k+"="+v)
	}
	return env
}

// shell runs a line in sh with the nixify binary, psql and redis-cli on PATH, as a user's shell.
func (e *env) shell(t *testing.T, bin, line string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(dir, "nixify")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", line)
	cmd.Env = append(e.environ(), "PATH="+dir+":"+testimage.PostgresBin+":"+os.Getenv("PATH"))
	cmd.Dir = e.stateDir
	out, err := cmd.CombinedOutput()
	t.Logf("sh -c %s\n%s", line, out)
	return string(out), err
}
