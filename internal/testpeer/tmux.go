package testpeer

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Terminal is a real terminal of a fixed size (a tmux window) running one command: for tests of
// what nixify draws, wraps and clips, seen as a user sees it.
type Terminal struct {
	t    testing.TB
	tmux string
	sock string
}

// exitMark ends the command line a Terminal runs, with the command's exit code.
const exitMark = "__nixify_exit__"

var exitRE = regexp.MustCompile(exitMark + ` (\d+)`)

// StartTerminal runs argv in a tmux window cols wide and rows high, with env (KEY=VALUE items)
// added to its environment. The window stays open after the command ends, so that Screen can
// read it.
func StartTerminal(t testing.TB, cols, rows int, env []string, argv ...string) *Terminal {
	t.Helper()
	term := &Terminal{t: t, tmux: Binary(t, "tmux"), sock: fmt.Sprintf("nixify-test-%d", time.Now().UnixNano())}
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	line := strings.Join(quoted, " ") + "; echo " + exitMark + " $?; sleep 600"
	args := []string{"start-server", ";", "set-option", "-g", "history-limit", "100000", ";",
		"new-session", "-d", "-s", "t", "-x", strconv.Itoa(cols), "-y", strconv.Itoa(rows), "-e", "TERM=tmux-256color"}
	for _, e := range env {
		args = append(args, "-e", e)
	}
	if out, err := term.run(append(args, line)...); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { term.run("kill-server") })
	return term
}

func (term *Terminal) run(args ...string) (string, error) {
	out, err := exec.Command(term.tmux, append([]string{"-L", term.sock}, args...)...).CombinedOutput()
	return string(out), err
}

// Wait waits until the command has ended and returns its exit code.
func (term *Terminal) Wait(limit time.Duration) int {
	term.t.Helper()
	var screen string
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		screen = term.capture(true)
		if m := exitRE.FindStringSubmatch(screen); m != nil {
			code, _ := strconv.Atoi(m[1])
			return code
		}
	}
	term.t.Fatalf("the command in the terminal did not end within %s:\n%s", limit, screen)
	return -1
}

// Screen is everything the terminal shows and has scrolled away, without the exit mark. joined
// puts the rows of a line the terminal wrapped back together; unjoined, each row is a line, as
// the user sees it.
func (term *Terminal) Screen(joined bool) string {
	term.t.Helper()
	out := term.capture(joined)
	if i := strings.Index(out, exitMark); i >= 0 {
		out = out[:i]
	}
	// -J keeps the spaces at the end of each line, the unjoined capture drops them.
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}

func (term *Terminal) capture(joined bool) string {
	term.t.Helper()
	args := []string{"capture-pane", "-p", "-S", "-", "-t", "t"}
	if joined {
		args = append(args, "-J")
	}
	out, err := term.run(args...)
	if err != nil {
		term.t.Fatalf("tmux capture-pane: %v\n%s", err, out)
	}
	return out
}
