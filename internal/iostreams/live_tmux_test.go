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

// TestLiveHelperProcess is not a test: the tests below run the test binary inside tmux with
// NIXIFY_LIVE_HELPER set, and this draws a live block there. "bottom" draws it at the bottom of a
// full screen, as in a terminal in use, with a line printed above it now and then; "top" draws
// it alone on the screen's first row, as after `clear`.
func TestLiveHelperProcess(t *testing.T) {
	mode := os.Getenv("NIXIFY_LIVE_HELPER")
	if mode == "" {
		return
	}
	if mode == "bottom" {
		for i := range 40 {
			fmt.Fprintf(os.Stderr, "earlier output %d\n", i)
		}
	}
	l := iostreams.System().NewLive()
	wide := strings.Repeat("-", 100)
	start, d := time.Now(), 6*time.Second
	if mode == "top" {
		d = 2 * time.Second
	}
	for i := 0; time.Since(start) < d; i++ {
		l.Set(fmt.Sprintf("LIVE one %d %s", i, wide), fmt.Sprintf("LIVE two %d %s", i, wide), fmt.Sprintf("LIVE three %d %s", i, wide))
		if mode == "bottom" && i%20 == 0 {
			l.Println(fmt.Sprintf("kept line %d", i/20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	l.Stop()
	fmt.Fprintln(os.Stderr, "DONE")
	os.Exit(0)
}

// liveInTmux runs the helper in a tmux window 120 columns wide, calls during while it draws, and
// returns the whole scrollback once it has finished.
func liveInTmux(t *testing.T, mode string, during func(tm func(args ...string))) string {
	tmux := testpeer.Binary(t, "tmux")
	sock := fmt.Sprintf("nixify-live-%d", time.Now().UnixNano())
	run := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-L", sock}, args...)...).CombinedOutput()
		return string(out), err
	}
	cmdline := fmt.Sprintf("'%s' -test.run='^TestLiveHelperProcess$'; echo EXIT $?; sleep 60", os.Args[0])
	if out, err := run("new-session", "-d", "-s", "live", "-x", "120", "-y", "30",
		"-e", "NIXIFY_LIVE_HELPER="+mode, "-e", "TERM=tmux-256color", cmdline); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { run("kill-server") })
	during(func(args ...string) {
		if out, err := run(args...); err != nil {
			t.Fatalf("tmux %s: %v\n%s", args[0], err, out)
		}
	})
	var pane string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var err error
		if pane, err = run("capture-pane", "-p", "-J", "-S", "-", "-t", "live"); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(pane, "EXIT ") {
			break
		}
	}
	if !strings.Contains(pane, "DONE") || !strings.Contains(pane, "EXIT 0") {
		t.Fatalf("the helper did not finish:\n%s", pane)
	}
	return pane
}

// staleRows counts the rows of the live block left on screen or in the scrollback: after Stop
// there must be none.
func staleRows(pane string) int { return strings.Count(pane, "LIVE ") }

// The bug: a terminal made narrower re-wraps the block's lines already drawn (a 119-column line
// takes two rows at 60), the next erase moved up one row per line, and each narrowing left rows
// of the old block in the scrollback. This draws a three-line block in a real terminal (tmux)
// while the window goes from 120 to 60 columns and back, four times.
//
// The block is drawn at the bottom of a full screen, as in a terminal in use: when a block near
// the top of the screen is re-wrapped, tmux keeps the cursor's row and pushes the rows above it
// into the scrollback, out of the cursor's reach, and no redraw can erase those.
func TestLiveBlockSurvivesNarrowingResizesInTmux(t *testing.T) {
	pane := liveInTmux(t, "bottom", func(tm func(args ...string)) {
		time.Sleep(time.Second)
		for range 4 {
			for _, cols := range []string{"60", "120"} {
				tm("resize-window", "-t", "live", "-x", cols)
				time.Sleep(600 * time.Millisecond)
			}
		}
	})
	if n := staleRows(pane); n > 0 {
		t.Fatalf("%d rows of the live block left in the scrollback after narrowing resizes:\n%s", n, pane)
	}
	kept := map[string]int{}
	for _, line := range strings.Split(pane, "\n") {
		if strings.HasPrefix(line, "kept line") {
			kept[line]++
		}
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

// The bug: the erase moved up to the block's first row and erased to the end of the screen; with
// the block on the screen's first row (after `clear`) that is a clear of the whole screen, which
// tmux (scroll-on-clear) keeps as a copy in the scrollback: one copy of the block per redraw.
func TestLiveBlockAtTheTopOfTheScreenLeavesNoCopiesInTmux(t *testing.T) {
	pane := liveInTmux(t, "top", func(func(args ...string)) {})
	if n := staleRows(pane); n > 0 {
		t.Fatalf("%d rows of the live block left in the scrollback:\n%s", n, pane)
	}
}
