package service

// End-to-end test of issue 21's full disk, on the real init with Debian's PostgreSQL and Redis, on a
// small tmpfs the test mounts (as root) and fills.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/testpeer"
	"github.com/nixify/nixify/pkg/health"
)

// mountSmallVolume mounts a tmpfs of size MiB on dir until the test ends (after the init is gone:
// register it before starting one).
func mountSmallVolume(t *testing.T, dir string, size int) {
	t.Helper()
	testpeer.Root(t, "mounting a small volume")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm,mode=0755", size), "tmpfs", dir).CombinedOutput(); err != nil {
		testpeer.Missing(t, "tmpfs mount", fmt.Sprintf("%v: %s", err, out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// fill writes path until the volume holding it has no byte left.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, size := range []int{1 << 20, 4 << 10, 1} {
		chunk := make([]byte, size)
		for {
			if _, err := f.Write(chunk); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
}

// serviceHealth fetches /health/NAME (fresh) and returns the code and the output.
func serviceHealth(e *env, name string) (int, string) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health/%s?fresh=1", e.appPort, name))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var body health.Response
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Output
}

// TestFullDiskIsReportedAndSparesRedis: on a full data volume every INSERT failed ("could not
// extend file") while PostgreSQL's check passed (SELECT 1), and a PostgreSQL that could not start
// for want of space made the init give up after about 3 s, taking a healthy Redis down (issue 21).
// The check now writes, and says why it fails; the init keeps Redis, says what to do, and
// PostgreSQL comes back once there is room.
func TestFullDiskIsReportedAndSparesRedis(t *testing.T) {
	e := newEnv(t)
	mountSmallVolume(t, e.data(), 160)
	r := e.start()
	filler := e.data("filler")
	fill(t, filler)

	var code int
	var out string
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if code, out = serviceHealth(e, "postgres"); code == 503 && strings.Contains(out, "disk") && strings.Contains(out, "full") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("on a full disk /health/postgres still says %d %q", code, out)
		}
	}
	t.Logf("full disk, running: %q", out)
	r.stop(t) // PostgreSQL may not stop cleanly on a full disk: that is not what this test is about
	// What the stop freed (postmaster.pid, ...) is taken too: now PostgreSQL cannot even start.
	fill(t, filler+"2")

	r = e.run()
	r.waitLog(t, "postgres cannot run: the disk holding")
	r.waitLog(t, "init | redis ready")
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if code, out = serviceHealth(e, "postgres"); code == 503 && strings.Contains(out, "free space on that volume or grow it") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with PostgreSQL unable to start, /health/postgres says %d %q\n%s", code, out, r.out.String())
		}
	}
	t.Logf("full disk, PostgreSQL cannot start: %q", out)
	// Well past the 3 s after which the init used to give up: Redis is still served.
	time.Sleep(5 * time.Second)
	select {
	case <-r.done:
		t.Fatalf("the init exited:\n%s", r.out.String())
	default:
	}
	if got := e.redisDo(t, "PING"); got != "+PONG" {
		t.Fatalf("Redis while PostgreSQL waits for space: %s", got)
	}
	if n := strings.Count(r.out.String(), "postgres cannot run: the disk holding"); n != 1 {
		t.Errorf("the fix is said %d times, want once:\n%s", n, r.out.String())
	}

	for _, f := range []string{filler, filler + "2"} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if code, out = serviceHealth(e, "postgres"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after freeing space /health/postgres says %d %q\n%s", code, out, r.out.String())
		}
	}
	r.waitLog(t, "init | ready:")
	if err := r.stop(t); err != nil {
		t.Errorf("stop after recovery: %v", err)
	}
}
