package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/e2e/testimage"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/record"
	"github.com/nixify/nixify/internal/testpeer"
)

const redisPassword = "e2e-redis-pw"

// inside runs a command in the container and fails the test unless it exits 0.
func inside(t *testing.T, eng engine.Engine, name string, cmd ...string) string {
	t.Helper()
	r, err := eng.ContainerExec(context.Background(), name, cmd, "")
	if err != nil {
		t.Fatalf("exec %v: %v", cmd, err)
	}
	if r.ExitCode != 0 {
		t.Fatalf("exec %v: exit %d: %s%s", cmd, r.ExitCode, r.Stdout, r.Stderr)
	}
	return strings.TrimSpace(r.Stdout)
}

func psql(t *testing.T, eng engine.Engine, name, sql string) string {
	t.Helper()
	return inside(t, eng, name, testimage.PostgresBin+"/psql", "-h", "/run/postgresql", "-U", "postgres", "-d", "postgres", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql)
}

func redisCLI(t *testing.T, eng engine.Engine, name string, args ...string) string {
	t.Helper()
	return inside(t, eng, name, append([]string{"/usr/bin/redis-cli", "--no-auth-warning", "-a", redisPassword}, args...)...)
}

// TestLifecycle is the scenario on the full image: run until healthy, write rows and keys,
// stop, run again with every row and key present; kill the container outright, run again with
// every committed row present; logs by service; health exit codes while a service hangs; clean
// leaves nothing of nixify's and touches nothing else.
func TestLifecycle(t *testing.T) {
	eng := testpeer.Engine(t)
	img := fullImage(t)
	e := newEnv(t)
	ctx := context.Background()
	e.removeAfter(eng, img)
	// Objects that are not nixify's: clean must leave them alone.
	bystander := "nixify-e2e-bystander-" + randomSuffix()
	if err := eng.VolumeCreate(ctx, bystander, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.VolumeRemove(context.Background(), bystander) })
	// Another configuration's nixify data volume: clean of this configuration must keep it too.
	otherData := "nixify-e2e-other-" + randomSuffix()
	if err := eng.VolumeCreate(ctx, otherData, map[string]string{container.LabelManaged: "true"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.VolumeRemove(context.Background(), otherData) })

	run := []string{"run", "--tar", img.path, "--timeout", "90s", "-e", "REDIS_PASSWORD=" + redisPassword}

	// A taken port is one clear line naming it, and nothing is left behind.
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", e.port))
	if err != nil {
		t.Fatal(err)
	}
	r := e.nixify(run...)
	l.Close()
	if r.code != cli.ExitFailure || !strings.Contains(r.errOut, fmt.Sprintf("cannot publish port %d on 127.0.0.1: the port is already in use", e.port)) {
		t.Fatalf("port in use: exit %d, stderr %q", r.code, r.errOut)
	}
	if _, err := eng.ContainerInspect(ctx, e.container); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("a failed run left a container: %v", err)
	}

	// First boot.
	r = e.nixify(run...)
	if r.code != 0 || !strings.Contains(r.out, "is healthy at http://127.0.0.1:") {
		t.Fatalf("run: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	for _, svc := range []string{"postgres\tpass", "redis\tpass"} {
		if !strings.Contains(r.out, svc) {
			t.Errorf("run's health table lacks %q:\n%s", svc, r.out)
		}
	}
	c, err := eng.ContainerInspect(ctx, e.container)
	if err != nil || !container.Managed(c.Labels) || c.Labels[container.LabelConfigDigest] != img.digest {
		t.Fatalf("container labels: %+v %v", c.Labels, err)
	}
	// The status page names the container the user knows (issue 23), not the engine's short ID.
	page, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", e.port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if !strings.Contains(string(body), e.container) {
		t.Errorf("the status page does not name the container %s:\n%.2000s", e.container, body)
	}

	// A second run of the same container finds it running: exit 0, as start does (issue 23);
	// with other settings it refuses and points at --replace.
	r = e.nixify(run...)
	if r.code != 0 || !strings.Contains(r.errOut, "is running already") {
		t.Fatalf("second run: exit %d, stderr %q", r.code, r.errOut)
	}
	r = e.nixify(append(run, "-e", "POSTGRES_DB=other")...)
	if r.code != cli.ExitFailure || !strings.Contains(r.errOut, "--replace") {
		t.Fatalf("second run with other settings: exit %d, stderr %q", r.code, r.errOut)
	}

	// Write data, stop gracefully, run again: everything is there.
	psql(t, eng, e.container, "CREATE TABLE items (n int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 100)")
	redisCLI(t, eng, e.container, "SET", "greeting", "hello")
	redisCLI(t, eng, e.container, "RPUSH", "list", "a", "b", "c")

	r = e.nixify("stop")
	if r.code != 0 || !strings.Contains(r.errOut, "exit code 0") {
		t.Fatalf("stop: exit %d\n%s", r.code, r.errOut)
	}
	r = e.nixify(append(run, "--replace")...)
	if r.code != 0 {
		t.Fatalf("run after stop: exit %d", r.code)
	}
	if got := psql(t, eng, e.container, "SELECT count(*) FROM items"); got != "100" {
		t.Fatalf("rows after stop and run: %s, want 100", got)
	}
	if got := redisCLI(t, eng, e.container, "GET", "greeting"); got != "hello" {
		t.Fatalf("redis key after stop and run: %q", got)
	}
	if got := redisCLI(t, eng, e.container, "LLEN", "list"); got != "3" {
		t.Fatalf("redis list after stop and run: %q", got)
	}

	// Kill the container outright: every committed row survives.
	psql(t, eng, e.container, "INSERT INTO items SELECT generate_series(101, 250)")
	if err := eng.ContainerKill(ctx, e.container, "KILL"); err != nil {
		t.Fatal(err)
	}
	r = e.nixify(append(run, "--replace")...)
	if r.code != 0 {
		t.Fatalf("run after kill: exit %d", r.code)
	}
	if got := psql(t, eng, e.container, "SELECT count(*) FROM items"); got != "250" {
		t.Fatalf("rows after kill and run: %s, want 250", got)
	}

	// Logs by service.
	for _, svc := range []string{"postgres", "redis", "init", "health"} {
		r = e.nixify("logs", "--service", svc)
		lines := strings.Split(strings.TrimSpace(r.out+r.errOut), "\n")
		if r.code != 0 || len(lines) == 0 || lines[0] == "" {
			t.Fatalf("logs --service %s: exit %d, no lines", svc, r.code)
		}
		for _, line := range lines {
			if !strings.HasPrefix(line, svc+" | ") {
				t.Fatalf("logs --service %s let through %q", svc, line)
			}
		}
	}
	r = e.nixify("logs", "--service", "redis", "--tail", "2")
	if n := len(strings.Split(strings.TrimSpace(r.out), "\n")); r.code != 0 || n > 2 {
		t.Fatalf("logs --tail 2: exit %d, %d lines", r.code, n)
	}
	// -o json: JSON Lines, one object a line, with the engine's time and the init's service.
	r = e.nixify("logs", "-o", "json", "--service", "postgres", "--tail", "5")
	for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
		var l struct{ Time, Stream, Service, Message string }
		if err := json.Unmarshal([]byte(line), &l); err != nil || l.Service != "postgres" || l.Time == "" || l.Stream == "" {
			t.Fatalf("logs -o json: exit %d, line %q (%v)", r.code, line, err)
		}
	}

	// Health: 0 when healthy, 3 while Redis hangs (stopped with SIGSTOP), 0 again after.
	r = e.nixify("health")
	if r.code != 0 {
		t.Fatalf("health: exit %d", r.code)
	}
	pid := inside(t, eng, e.container, "/bin/pidof", "redis-server")
	inside(t, eng, e.container, "/bin/kill", "-STOP", pid)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = e.nixify("health")
		if r.code == cli.ExitUnhealthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health with Redis stopped: exit %d, want %d", r.code, cli.ExitUnhealthy)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !strings.Contains(r.out, "redis\tfail") {
		t.Errorf("health table does not show redis failing:\n%s", r.out)
	}
	inside(t, eng, e.container, "/bin/kill", "-CONT", pid)
	r = e.nixify("health", "--wait", "30s", "-o", "json")
	if r.code != 0 || !strings.Contains(r.out, `"healthy": true`) {
		t.Fatalf("health --wait after Redis resumed: exit %d\n%s", r.code, r.out)
	}

	// Clean: volumes need --yes without a terminal; then nothing of nixify's is left.
	r = e.nixify("clean", "--volumes")
	if r.code != cli.ExitUsage || !strings.Contains(r.errOut, "--yes") {
		t.Fatalf("clean --volumes without --yes: exit %d, %q", r.code, r.errOut)
	}
	r = e.nixify("clean", "--volumes", "--yes")
	if r.code != 0 {
		t.Fatalf("clean: exit %d", r.code)
	}
	if _, err := eng.ContainerInspect(ctx, e.container); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("container left after clean: %v", err)
	}
	if _, err := eng.VolumeInspect(ctx, e.volume); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("volume left after clean: %v", err)
	}
	if _, err := eng.VolumeInspect(ctx, bystander); err != nil {
		t.Errorf("clean touched a volume that is not nixify's: %v", err)
	}
	if _, err := eng.VolumeInspect(ctx, otherData); err != nil {
		t.Errorf("clean removed another configuration's data volume: %v", err)
	}
	if _, err := eng.ImageInspect(ctx, img.digest); err != nil {
		t.Errorf("clean without --images removed the image: %v", err)
	}
}

// TestUpRunsTheRecordedBuild checks up's run half: with a build record pointing at the archive, up
// loads it, starts the container and, run again, replaces its own container on the same volume.
func TestUpRunsTheRecordedBuild(t *testing.T) {
	eng := testpeer.Engine(t)
	img := fullImage(t)
	e := newEnv(t)
	e.removeAfter(eng, img)
	b := record.Build{Arch: "x86_64", System: "x86_64-linux", OutPath: img.path, Kind: record.Tarball, ConfigDigest: img.digest, BuiltAt: time.Now()}
	if err := (record.Store{Dir: e.stateDir}).Save(b); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		r := e.nixify("up", "--no-build", "--timeout", "90s")
		if r.code != 0 || !strings.Contains(r.out, "is healthy at") {
			t.Fatalf("up #%d: exit %d\n%s%s", i+1, r.code, r.out, r.errOut)
		}
	}
	// up onto a taken port says so and leaves the running container alone.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	before, _ := eng.ContainerInspect(context.Background(), e.container)
	if r := e.nixify("up", "--no-build", "--port", fmt.Sprint(taken)); r.code != cli.ExitFailure || !strings.Contains(r.errOut, fmt.Sprintf("cannot publish port %d", taken)) {
		t.Fatalf("up --port onto a taken port: exit %d, %q", r.code, r.errOut)
	}
	if after, err := eng.ContainerInspect(context.Background(), e.container); err != nil || after.ID != before.ID || !after.Running {
		t.Fatalf("a refused up removed or stopped the running container: %v", err)
	}

	// status names the build the image came from.
	r := e.nixify("status", "-o", "json")
	var st struct {
		Build *struct {
			Architecture string `json:"architecture"`
		} `json:"build"`
	}
	if err := json.Unmarshal([]byte(r.out), &st); err != nil || st.Build == nil || st.Build.Architecture != "amd64" {
		t.Fatalf("status does not name the recorded build: %v\n%s", err, r.out)
	}
	r = e.nixify("clean", "--all", "--yes", "-o", "json")
	if r.code != 0 || !strings.Contains(r.out, img.digest) {
		t.Fatalf("clean --all: exit %d\n%s", r.code, r.out)
	}
	if _, err := eng.ImageInspect(context.Background(), img.digest); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("image left after clean --all: %v", err)
	}
	if _, err := (record.Store{Dir: e.stateDir}).Latest("x86_64"); !errors.Is(err, record.ErrNoBuild) {
		t.Fatalf("build record left after clean --all: %v", err)
	}
}

// TestRunFailuresSayWhy: an environment the init would refuse is refused before a container is
// made; a container whose init exits at once, and one not ready within the timeout, each give the
// reason, the last log lines and their exit code.
func TestRunFailuresSayWhy(t *testing.T) {
	eng := testpeer.Engine(t)
	img := fullImage(t)
	e := newEnv(t)
	e.removeAfter(eng, img)
	r := e.nixify("run", "--tar", img.path, "-e", "NIXIFY_SERVICES=postgres,mysql")
	if r.code != cli.ExitUsage || !strings.Contains(r.errOut, `"mysql"`) {
		t.Fatalf("an environment the init refuses: exit %d\n%s", r.code, r.errOut)
	}
	if _, err := eng.ContainerInspect(context.Background(), e.container); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("a refused environment made a container: %v", err)
	}
	// A data root that is a file passes the parse and stops the init at once. (/etc/passwd once
	// served; the parse now refuses every system directory, issue 21.)
	r = e.nixify("run", "--tar", img.path, "-e", "NIXIFY_DATA_DIR="+testimage.NotADirectory)
	if r.code != cli.ExitFailure || !strings.Contains(r.errOut, "before it was ready") || !strings.Contains(r.errOut, "last log lines:") {
		t.Fatalf("init that exits: exit %d\n%s", r.code, r.errOut)
	}
	r = e.nixify("run", "--tar", img.path, "--replace", "--timeout", "300ms")
	if r.code != cli.ExitUnhealthy || !strings.Contains(r.errOut, "not ready after 300ms") {
		t.Fatalf("timeout: exit %d\n%s", r.code, r.errOut)
	}
}
