package iostreams_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/testpeer"
)

// TestLiveHelperProcess is not a test: TestLiveBlockSurvivesNarrowingResizesInTmux runs the test
// binary inside tmux with NIXIFY_LIVE_HELPER=1, and this draws a live block there.
func TestLiveHelperProcess(t *testing.T) {
	if os.Getenv("NIXIFY_LIVE_HELPER") != "1" {
		return
	}
	// A terminal in use: the screen is full, and the block is drawn at its bottom.
	for i := range 40 {
		fmt.Fprintf(os.Stderr, "earlier output %d\n", i)
	}
	s := iostreams.System()
	l := s.NewLive()
	wide := strings.Repeat("-", 100)
	start := time.Now()
	for i := 0; time.Since(start) < 6*time.Second; i++ {
		l.Set(fmt.Sprintf("LIVE one %d %s", i, wide), fmt.Sprintf("LIVE two %d %s", i, wide), fmt.Sprintf("LIVE three %d %s", i, wide))
		if i%20 == 0 {
			l.Println(fmt.Sprintf("kept line %d", i/20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	l.Stop()
	fmt.Fprintln(os.Stderr, "DONE")
	os.Exit(0)
}

// The bug: a terminal made narrower re-wraps the block's lines already drawn (a 119-column line
// takes two rows at 60), the next erase moved up one row per line, and each narrowing left rows
// of the old block in the scrollback. This draws a three-line block in a real terminal (tmux)
// while the window goes from 120 to 60 columns and back, four times.
//
// The block is drawn at the bottom of a full screen, as in a terminal in use: when a block near
// the top of the screen is re-wrapped, tmux keeps the cursor's row and pushes the rows above it
// into the scrollback, out of the cursor's reach, and no redraw can erase those.
func TestLiveBlockSurvivesNarrowingResizesInTmux(t *testing.T) {
	tmux := testpeer.Binary(t, "tmux")
	sock := fmt.Sprintf("nixify-live-%d", time.Now().UnixNano())
	tm := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-L", sock}, args...)...).CombinedOutput()
		return string(out), err
	}
	cmdline := fmt.Sprintf("'%s' -test.run='^TestLiveHelperProcess$'; echo EXIT $?; sleep 60", os.Args[0])
	if out, err := tm("new-session", "-d", "-s", "live", "-x", "120", "-y", "30",
		"-e", "NIXIFY_LIVE_HELPER=1", "-e", "TERM=tmux-256color", cmdline); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { tm("kill-server") })
	time.Sleep(time.Second)
	for range 4 {
		for _, cols := range []string{"60", "120"} {
			if out, err := tm("resize-window", "-t", "live", "-x", cols); err != nil {
				t.Fatalf("tmux resize-window: %v\n%s", err, out)
			}
			time.Sleep(600 * time.Millisecond)
		}
	}
	var pane string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var err error
		if pane, err = tm("capture-pane", "-p", "-J", "-S", "-", "-t", "live"); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(pane, "EXIT ") {
			break
		}
	}
	if !strings.Contains(pane, "DONE") || !strings.Contains(pane, "EXIT 0") {
		t.Fatalf("the helper did not finish:\n%s", pane)
	}
	stale, kept := 0, map[string]int{}
	for _, line := range strings.Split(pane, "\n") {
		if strings.Contains(line, "LIVE") {
			stale++
		}
		if strings.HasPrefix(line, "kept line") {
			kept[line]++
		}
	}
	if stale > 0 {
		t.Fatalf("%d rows of the live block left in the scrollback after narrowing resizes:\n%s", stale, pane)
	}
	for line, n := range kept {
		if n != 1 {
			t.Fatalf("%q printed once, shown %d times:\n%s", line, n, pane)
		}
	}
	if len(kept) < 5 {
		t.Fatalf("only %d kept lines shown, want 6:\n%s", len(kept), pane)
	}
}
