package health

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/testpeer"
	"github.com/nixify/nixify/pkg/health"
)

// TestWatchHelperProcess is not a test: TestWatchSurvivesNarrowingInTmux runs the test binary
// inside tmux with NIXIFY_WATCH_HELPER set, and this runs health --watch's loop there, under a
// screenful of earlier output (as `seq 60; nixify health --watch`), for a few seconds.
func TestWatchHelperProcess(t *testing.T) {
	if os.Getenv("NIXIFY_WATCH_HELPER") == "" {
		return
	}
	for i := range 60 {
		fmt.Println(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	err := watch(ctx, &Options{IO: iostreams.System(), Interval: 200 * time.Millisecond}, func() (shared.Report, error) {
		return shared.Report{Container: "c", State: "running", Healthy: true, Services: []shared.ServiceReport{
			{Name: "redis", Status: health.Pass, Message: "WATCHROW redis answers PING with PONG, memory and clients fine"},
			{Name: "postgres", Status: health.Pass, Message: "WATCHROW postgres accepts connections on its socket, 3 databases"},
		}}, nil
	})
	fmt.Println("DONE", err)
	os.Exit(0)
}

// The bug: `health --watch` erased its table one row per line, so a terminal made narrower (80
// to 50 columns: each table row re-wrapped onto two) left rows of old tables in the scrollback.
// On a live block the erase counts the rows each line takes at the new width.
func TestWatchSurvivesNarrowingInTmux(t *testing.T) {
	tmux := testpeer.Binary(t, "tmux")
	sock := fmt.Sprintf("nixify-watch-%d", time.Now().UnixNano())
	run := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-L", sock}, args...)...).CombinedOutput()
		return string(out), err
	}
	cmdline := fmt.Sprintf("'%s' -test.run='^TestWatchHelperProcess$'; echo EXIT $?; sleep 60", os.Args[0])
	if out, err := run("new-session", "-d", "-s", "watch", "-x", "80", "-y", "30",
		"-e", "NIXIFY_WATCH_HELPER=1", "-e", "TERM=tmux-256color", cmdline); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { run("kill-server") })
	time.Sleep(time.Second)
	for range 3 {
		for _, cols := range []string{"50", "80"} {
			if out, err := run("resize-window", "-t", "watch", "-x", cols); err != nil {
				t.Fatalf("tmux resize-window: %v\n%s", err, out)
			}
			time.Sleep(600 * time.Millisecond)
		}
	}
	var pane string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var err error
		if pane, err = run("capture-pane", "-p", "-J", "-S", "-", "-t", "watch"); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(pane, "EXIT ") {
			break
		}
	}
	if !strings.Contains(pane, "DONE") || !strings.Contains(pane, "EXIT 0") {
		t.Fatalf("the helper did not finish:\n%s", pane)
	}
	// The last table stays, whole, once: two rows and one "updated" line.
	if n := strings.Count(pane, "WATCHROW"); n != 2 {
		t.Errorf("%d table rows on screen and in the scrollback, want the last table's 2:\n%s", n, pane)
	}
	if n := strings.Count(pane, "updated "); n != 1 {
		t.Errorf("%d \"updated\" lines, want 1:\n%s", n, pane)
	}
}
