package service

// End-to-end tests: they build nixify-init, run it as root on the host in a temporary data root with
// Debian's PostgreSQL and Redis as the real services, and talk to them over the network.
// Run: go test -race ./internal/init/service (as root; CI=true turns missing peers into failures).

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nixify/nixify/internal/testpeer"
)

var (
	buildOnce sync.Once
	initBin   string
	buildErr  error
)

// nixifyInit builds the binary once per test run.
func nixifyInit(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "nixify-init-bin")
		if err != nil {
			buildErr = err
			return
		}
		initBin = filepath.Join(dir, "nixify-init")
		out, err := exec.Command("go", "build", "-o", initBin, "github.com/nixify/nixify/cmd/nixify-init").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return initBin
}

// env is one container's environment: a data root and ports of its own.
type env struct {
	t       *testing.T
	root    string
	vars    []string
	pgPort  int
	rdPort  int
	appPort int
}

func newEnv(t *testing.T, extra ...string) *env {
	t.Helper()
	testpeer.Root(t, "the init switches to the postgres and redis users")
	for _, u := range []string{"postgres", "redis"} {
		if _, err := exec.Command("id", u).Output(); err != nil {
			testpeer.Missing(t, "user "+u, err.Error())
		}
	}
	bin := t.TempDir()
	for _, p := range []string{"initdb", "postgres", "redis-server"} {
		if err := os.Symlink(testpeer.Binary(t, p), filepath.Join(bin, p)); err != nil {
			t.Fatal(err)
		}
	}
	root := t.TempDir()
	// The services' users must reach their folders inside the test's temporary directories.
	for d := root; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	e := &env{t: t, root: root, pgPort: testpeer.FreePort(t), rdPort: testpeer.FreePort(t), appPort: testpeer.FreePort(t)}
	e.vars = append([]string{
		"PATH=" + bin + ":/usr/bin:/bin",
		"NIXIFY_DATA_DIR=" + filepath.Join(root, "data"),
		"NIXIFY_RUN_DIR=" + filepath.Join(root, "run"),
		"NIXIFY_LISTEN=127.0.0.1",
		"NIXIFY_SERVICES=postgres,redis",
		fmt.Sprintf("PG_PORT=%d", e.pgPort),
		fmt.Sprintf("REDIS_PORT=%d", e.rdPort),
		fmt.Sprintf("APP_PORT=%d", e.appPort),
		"REDIS_PASSWORD=redis-test-password",
	}, extra...)
	return e
}

func (e *env) data(p ...string) string {
	return filepath.Join(append([]string{e.root, "data"}, p...)...)
}

// running is one started nixify-init.
type running struct {
	cmd  *exec.Cmd
	out  *testpeer.Buffer
	done chan struct{} // closed when the process has exited; err is then set
	err  error
}

// start runs the init and waits until it reports ready.
func (e *env) start() *running {
	e.t.Helper()
	r := e.run()
	r.waitLog(e.t, "init | ready:")
	return r
}

// run starts the init without waiting for ready; it is killed when the test ends.
func (e *env) run() *running {
	e.t.Helper()
	cmd := exec.Command(nixifyInit(e.t))
	cmd.Env = e.vars
	r := &running{cmd: cmd, out: &testpeer.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = r.out, r.out
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { r.err = cmd.Wait(); close(r.done) }()
	e.t.Cleanup(func() {
		killTree(cmd.Process.Pid)
		<-r.done
	})
	return r
}

func (r *running) waitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(r.out.String(), want) {
		select {
		case <-r.done:
			t.Fatalf("nixify-init exited (%v) before %q; output:\n%s", r.err, want, r.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in output:\n%s", want, r.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and returns the exit error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
		return r.err
	case <-time.After(30 * time.Second):
		t.Fatalf("nixify-init did not stop; output:\n%s", r.out.String())
		return nil
	}
}

// children lists pid -> comm of the process tree under pid.
func children(pid int) map[int]string {
	out := map[int]string{}
	entries, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	comm := map[int]string{}
	for _, e := range entries {
		var p int
		if _, err := fmt.Sscan(e.Name(), &p); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		fields := strings.Fields(s[close+1:])
		var pp int
		fmt.Sscan(fields[1], &pp)
		parent[p], comm[p] = pp, s[open+1:close]
	}
	var walk func(int)
	walk = func(p int) {
		for c, pp := range parent {
			if pp == p {
				out[c] = comm[c]
				walk(c)
			}
		}
	}
	walk(pid)
	return out
}

func killTree(pid int) {
	tree := children(pid)
	syscall.Kill(pid, syscall.SIGKILL)
	for c := range tree {
		syscall.Kill(c, syscall.SIGKILL)
	}
}

func procUID(t *testing.T, pid int) (uid string, groups string) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Uid:") {
			uid = strings.Fields(line)[1]
		}
		if strings.HasPrefix(line, "Groups:") {
			groups = strings.TrimSpace(strings.TrimPrefix(line, "Groups:"))
		}
	}
	return uid, groups
}

func (e *env) pg(t *testing.T) *pgx.Conn {
	t.Helper()
	pw, err := os.ReadFile(e.data("secrets", "postgres-password"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%d user=postgres password=%s dbname=postgres sslmode=disable", e.pgPort, strings.TrimSpace(string(pw))))
	if err != nil {
		t.Fatalf("connect over TCP with the stored password: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// redisDo sends one command (after AUTH) and returns the first reply line, plus a bulk body.
func (e *env) redisDo(t *testing.T, args ...string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e.rdPort), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	send := func(args ...string) string {
		fmt.Fprintf(conn, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(conn, "$%d\r\n%s\r\n", len(a), a)
		}
		line, _ := r.ReadString('\n')
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "$") && line != "$-1" {
			body, _ := r.ReadString('\n')
			return strings.TrimSpace(body)
		}
		return line
	}
	// The file holds the password in effect, given (REDIS_PASSWORD) or generated.
	if got := send("AUTH", strings.TrimSuffix(readFile(t, e.data("secrets", "redis-password")), "\n")); got != "+OK" {
		t.Fatalf("AUTH: %s", got)
	}
	return send(args...)
}

func mode(t *testing.T, path string) (os.FileMode, uint32) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Uid
}

func uidOf(t *testing.T, name string) uint32 {
	t.Helper()
	out, err := exec.Command("id", "-u", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	var uid uint32
	fmt.Sscan(string(out), &uid)
	return uid
}

func TestFirstBootAndDurability(t *testing.T) {
	e := newEnv(t)
	r := e.start()

	// Issue 23: initdb without TZ scanned the time-zone database (about 1 s of a first boot in a
	// container) and picked what it found ("Etc/UTC" here); it is given UTC.
	if conf := readFile(t, e.data("postgres", "postgresql.conf")); !strings.Contains(conf, "\ntimezone = 'UTC'") {
		t.Errorf("postgresql.conf's timezone is not the UTC initdb was given:\n%s", grepLines(conf, "timezone"))
	}

	// Services run as their users, without supplementary groups.
	want := map[string]string{"postgres": "postgres", "redis-server": "redis"}
	seen := map[string]bool{}
	for pid, comm := range children(r.cmd.Process.Pid) {
		if user, ok := want[comm]; ok && !seen[comm] {
			uid, groups := procUID(t, pid)
			if uid != fmt.Sprint(uidOf(t, user)) || groups != "" {
				t.Errorf("%s (pid %d) runs as uid %s groups %q, want %s and none", comm, pid, uid, groups, user)
			}
			seen[comm] = true
		}
	}
	if len(seen) != 2 {
		t.Errorf("found %v among the init's children", seen)
	}

	// Files and modes.
	checks := []struct {
		path  string
		mode  os.FileMode
		owner string
	}{
		{e.data("postgres"), 0o700, "postgres"},
		{e.data("postgres", "PG_VERSION"), 0o600, "postgres"},
		{e.data("postgres", "pg_hba.conf"), 0o600, "postgres"},
		{e.data("redis"), 0o700, "redis"},
		{e.data("redis", "redis.conf"), 0o600, "redis"},
		{e.data("secrets"), 0o700, "root"},
		{e.data("secrets", "postgres-password"), 0o600, "root"},
		{e.data("secrets", "redis-password"), 0o600, "root"},
		{e.data(".nixify-init.lock"), 0o600, "root"},
		{filepath.Join(e.root, "run"), 0o700, "postgres"}, // the socket: postgres and root only
	}
	for _, c := range checks {
		m, uid := mode(t, c.path)
		if m != c.mode || uid != uidOf(t, c.owner) {
			t.Errorf("%s: mode %v uid %d, want %v %s", c.path, m, uid, c.mode, c.owner)
		}
	}
	if _, err := os.Stat(e.data(".postgres-initdb")); !os.IsNotExist(err) {
		t.Errorf("initdb scratch directory left behind: %v", err)
	}
	if _, err := os.Stat(e.data("garage")); !os.IsNotExist(err) {
		t.Errorf("disabled garage got a data directory")
	}
	if strings.Contains(r.out.String(), strings.TrimSpace(readFile(t, e.data("secrets", "postgres-password")))) {
		t.Error("the generated password appears in the log")
	}

	// Write data, stop with SIGTERM, start again: everything is there.
	ctx := context.Background()
	conn := e.pg(t)
	if _, err := conn.Exec(ctx, "CREATE TABLE t (n int); INSERT INTO t SELECT generate_series(1, 100)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if got := e.redisDo(t, "SET", "k1", "v1"); got != "+OK" {
		t.Fatalf("SET: %s", got)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, r.out.String())
	}
	out := r.out.String()
	for _, want := range []string{"postgres | ", "database system is shut down", "redis stopped", "postgres stopped", "all services stopped cleanly"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if strings.Index(out, "redis stopped") > strings.Index(out, "postgres stopped") {
		t.Error("postgres stopped before redis: not reverse order")
	}

	r = e.start()
	if strings.Contains(r.out.String(), "initdb") {
		t.Error("second boot ran initdb again")
	}
	if n := countRows(t, e); n != 100 {
		t.Fatalf("after SIGTERM restart: %d rows, want 100", n)
	}
	if got := e.redisDo(t, "GET", "k1"); got != "v1" {
		t.Fatalf("after SIGTERM restart: GET k1 = %q", got)
	}

	// Commit more, then SIGKILL the whole tree: every committed row survives.
	conn = e.pg(t)
	if _, err := conn.Exec(ctx, "INSERT INTO t SELECT generate_series(101, 150)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	e.redisDo(t, "SET", "k2", "v2")
	killTree(r.cmd.Process.Pid)
	<-r.done
	e.start()
	if n := countRows(t, e); n != 150 {
		t.Fatalf("after SIGKILL restart: %d rows, want 150", n)
	}
	if got := e.redisDo(t, "GET", "k2"); got != "v2" {
		t.Errorf("after SIGKILL restart: GET k2 = %q", got)
	}

	// A fresh data root gets fresh secrets.
	e2 := newEnv(t)
	e2.start()
	if readFile(t, e.data("secrets", "postgres-password")) == readFile(t, e2.data("secrets", "postgres-password")) {
		t.Error("two fresh data roots share a generated password")
	}
}

// grepLines keeps the lines of s that hold substr.
func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func countRows(t *testing.T, e *env) int {
	t.Helper()
	var n int
	if err := e.pg(t).QueryRow(context.Background(), "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestKilledRedisIsRestarted(t *testing.T) {
	e := newEnv(t, "NIXIFY_SERVICES=redis")
	r := e.start()
	var pid int
	for p, comm := range children(r.cmd.Process.Pid) {
		if comm == "redis-server" {
			pid = p
		}
	}
	if pid == 0 {
		t.Fatal("no redis-server child")
	}
	syscall.Kill(pid, syscall.SIGKILL)
	r.waitLog(t, "redis: exited (killed by signal 9")
	r.waitLog(t, "redis ready again")
	if got := e.redisDo(t, "PING"); got != "+PONG" {
		t.Fatalf("PING after restart: %s", got)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestBadEnvironmentIsOneLine(t *testing.T) {
	bin := nixifyInit(t)
	root := t.TempDir()
	cases := []struct {
		env  []string
		want string
	}{
		{[]string{"PG_PORT=abc"}, `PG_PORT="abc" is not a port`},
		{[]string{"NIXIFY_SERVICES=postgres,mysql"}, `unknown service "mysql"`},
		{[]string{"NIXIFY_SERVICES= "}, `NIXIFY_SERVICES=" " names no service`},
		{[]string{"NIXIFY_LISTEN=127.0.0.1\nenable-debug-command yes"}, `NIXIFY_LISTEN="127.0.0.1\nenable-debug-command yes" is not an IP address or host name`},
		{[]string{"POSTGRES_USER=pg_app"}, `POSTGRES_USER="pg_app" is not a role PostgreSQL accepts`},
		{[]string{"NIXIFY_DATA_DIR=/proc/nixify", "NIXIFY_SERVICES=redis"}, `NIXIFY_DATA_DIR="/proc/nixify" is inside the system directory /proc`},
		// Issue 21: the run directory on the data root had the init chown it to postgres and
		// chmod it 0700 (the data root is then created: the check below fails).
		{[]string{"NIXIFY_RUN_DIR=" + filepath.Join(root, "data")}, `NIXIFY_RUN_DIR="` + filepath.Join(root, "data") + `" overlaps NIXIFY_DATA_DIR`},
		{[]string{"NIXIFY_HEALTH_INTERVAL=0.0000001"}, `NIXIFY_HEALTH_INTERVAL="0.0000001" is out of bounds: use from 100ms to 1h`},
		{[]string{"PG_PORT=7001", "REDIS_PORT=7001"}, "REDIS_PORT=7001 collides with PG_PORT=7001"},
		{[]string{"NIXIFY_SERVICES=redis", "PATH=/nonexistent"}, "redis-server not found on PATH"},
	}
	for _, c := range cases {
		cmd := exec.Command(bin)
		cmd.Env = append([]string{"NIXIFY_DATA_DIR=" + filepath.Join(root, "data"), "PATH=" + os.Getenv("PATH"),
			fmt.Sprintf("APP_PORT=%d", testpeer.FreePort(t))}, c.env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if code := cmd.ProcessState.ExitCode(); err == nil || code != ExitRefused {
			t.Errorf("%q: exit %d (%v), want %d", c.env, code, err, ExitRefused)
			continue
		}
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], c.want) {
			t.Errorf("%v: stderr %q, want one line with %q", c.env, stderr.String(), c.want)
		}
		if _, err := os.Stat(filepath.Join(root, "data")); !os.IsNotExist(err) && !strings.Contains(c.want, "PATH") {
			t.Errorf("%v: data root created despite the error", c.env)
		}
	}
}

// TestGarageBootstrapWithDouble runs the garage service with fakegarage, a TEST DOUBLE of the
// garage program (internal/garage/garagetest/fakegarage), since no Garage binary exists here.
func TestGarageBootstrapWithDouble(t *testing.T) {
	if _, err := exec.Command("id", "garage").Output(); err != nil {
		if testpeer.InCI() && os.Geteuid() == 0 {
			if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "garage").CombinedOutput(); err != nil {
				t.Fatalf("useradd garage: %v: %s", err, out)
			}
		} else {
			testpeer.Missing(t, "user garage", "create it with: useradd --system garage")
		}
	}
	admin := testpeer.FreePort(t)
	e := newEnv(t, "NIXIFY_SERVICES=garage", fmt.Sprintf("GARAGE_ADMIN_PORT=%d", admin),
		fmt.Sprintf("GARAGE_S3_PORT=%d", testpeer.FreePort(t)), fmt.Sprintf("NIXIFY_GARAGE_RPC_PORT=%d", testpeer.FreePort(t)))
	bin := strings.TrimPrefix(strings.Split(e.vars[0], ":")[0], "PATH=")
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "garage"), "github.com/nixify/nixify/internal/init/garage/garagetest/fakegarage").CombinedOutput(); err != nil {
		t.Fatalf("build fakegarage: %v\n%s", err, out)
	}
	r := e.start()
	for _, want := range []string{"layout version 1 applied", "imported", "bucket nixify created", "allowed on bucket nixify"} {
		if !strings.Contains(r.out.String(), want) {
			t.Errorf("first boot log lacks %q:\n%s", want, r.out.String())
		}
	}
	for _, f := range []string{"garage-access-key", "garage-secret-key", "garage-admin-token", "garage-rpc-secret", "garage-metrics-token"} {
		if m, uid := mode(t, e.data("secrets", f)); m != 0o600 || uid != 0 {
			t.Errorf("%s: mode %v uid %d", f, m, uid)
		}
	}
	if m, uid := mode(t, e.data("garage", "garage.toml")); m != 0o600 || uid != uidOf(t, "garage") {
		t.Errorf("garage.toml: mode %v uid %d", m, uid)
	}
	conf := readFile(t, e.data("garage", "garage.toml"))
	if !strings.Contains(conf, "replication_factor = 1") || !strings.Contains(conf, strings.TrimSpace(readFile(t, e.data("secrets", "garage-admin-token")))) {
		t.Errorf("garage.toml:\n%s", conf)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	state1 := readFile(t, e.data("garage", "meta", "fake-state.json"))

	r = e.start()
	if strings.Contains(r.out.String(), "applied") || strings.Contains(r.out.String(), "created") || strings.Contains(r.out.String(), "allowed") {
		t.Errorf("second boot changed something:\n%s", r.out.String())
	}
	if state2 := readFile(t, e.data("garage", "meta", "fake-state.json")); state2 != state1 {
		t.Errorf("second boot changed the double's state:\n%s\n%s", state1, state2)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestHealthcheckCommand(t *testing.T) {
	e := newEnv(t, "NIXIFY_SERVICES=redis")
	r := e.start()
	check := func(vars []string) (string, error) {
		cmd := exec.Command(nixifyInit(t), "healthcheck")
		cmd.Env = vars
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		return stderr.String(), err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		stderr, err := check(e.vars)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthcheck never passed: %v: %s\n%s", err, stderr, r.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	stderr, err := check([]string{"NIXIFY_RUN_DIR=" + t.TempDir()})
	if err == nil || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "unhealthy") {
		t.Fatalf("healthcheck against a closed port: %v, stderr %q", err, stderr)
	}
}
