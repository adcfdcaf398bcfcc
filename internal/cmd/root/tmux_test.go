package root

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/testpeer"
	"github.com/spf13/cobra"
)

// TestNixifyHelperProcess is not a test: the tests below run the test binary in a real terminal
// with NIXIFY_ROOT_HELPER set, and this is nixify there, with the arguments after "--".
func TestNixifyHelperProcess(t *testing.T) {
	if os.Getenv("NIXIFY_ROOT_HELPER") == "" {
		return
	}
	i := slices.Index(os.Args, "--")
	os.Exit(Main(cli.NewFactory(), os.Args[i+1:]))
}

// nixifyInTerminal runs nixify with args in a terminal cols wide and returns its screen as the user
// sees it (rows) and with the rows of each line the terminal wrapped joined (lines).
func nixifyInTerminal(t *testing.T, cols int, env []string, args ...string) (rows, lines string, code int) {
	t.Helper()
	argv := append([]string{os.Args[0], "-test.run=^TestNixifyHelperProcess$", "--"}, args...)
	term := testpeer.StartTerminal(t, cols, 40, append(env, "NIXIFY_ROOT_HELPER=1"), argv...)
	code = term.Wait(60 * time.Second)
	return term.Screen(false), term.Screen(true), code
}

// The bug: help texts were hard-wrapped at about 95 columns, so an 80-column terminal wrapped them
// again, splitting words ("ha/ppens") and flag descriptions mid-word. Every command's help, shown
// in a real 80-column terminal, must need no wrapping by the terminal, keep each example on one
// line, and lose no word of the command's description.
func TestHelpFitsAn80ColumnTerminal(t *testing.T) {
	var all []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		all = append(all, c)
		for _, s := range c.Commands() {
			if s.IsAvailableCommand() {
				walk(s)
			}
		}
	}
	walk(NewCmdRoot(cli.NewFactory()))
	for _, c := range all {
		path := strings.Fields(c.CommandPath())[1:]
		t.Run(strings.Join(append([]string{"nixify"}, path...), " "), func(t *testing.T) {
			rows, lines, code := nixifyInTerminal(t, 80, nil, append(path, "--help")...)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, rows)
			}
			if rows != lines {
				for i, r := range strings.Split(rows, "\n") {
					if l := strings.Split(lines, "\n"); i >= len(l) || r != l[i] {
						t.Fatalf("the terminal wrapped a line of the help, row %d: %q\n%s", i+1, r, rows)
					}
				}
			}
			for _, ex := range strings.Split(c.Example, "\n") {
				if ex = strings.TrimSpace(ex); ex != "" && !strings.Contains(rows, "\n  "+ex+"\n") && !strings.HasSuffix(rows, "\n  "+ex) {
					t.Errorf("example %q is not one line of its own:\n%s", ex, rows)
				}
			}
			words := strings.Fields(c.Long)
			if got := strings.Fields(rows); len(words) > 0 && !slices.Equal(got[:min(len(words), len(got))], words) {
				t.Errorf("the description lost or reordered words:\nwant %q\n got %q", words, got[:min(len(words), len(got))])
			}
		})
	}
}

// The bug: doctor's detail column and its fix lines ran past 80 columns, and the terminal split
// their words. In a real 80-column terminal nothing is wrapped by the terminal and every word of
// every detail and fix is shown whole.
func TestDoctorFitsAn80ColumnTerminal(t *testing.T) {
	testpeer.Binary(t, "nix")
	var report struct {
		Checks []struct{ Name, Detail, Fix string }
	}
	r := run(t, map[string]string{"DOCKER_HOST": "unix:///nonexistent.sock"}, t.TempDir(), "doctor", "-o", "json")
	if err := json.Unmarshal([]byte(r.out), &report); err != nil {
		t.Fatalf("doctor -o json: %v\n%s", err, r.out)
	}
	rows, lines, _ := nixifyInTerminal(t, 80, []string{"DOCKER_HOST=unix:///nonexistent.sock"}, "doctor")
	if rows != lines {
		t.Fatalf("the terminal wrapped a line of doctor's output:\n%s", rows)
	}
	shown := strings.Fields(rows)
	for _, c := range report.Checks {
		if strings.HasPrefix(c.Name, "disk") {
			continue // the free space changes between the two runs
		}
		for _, w := range strings.Fields(c.Detail + " " + c.Fix) {
			if !slices.Contains(shown, w) {
				t.Fatalf("%q is not shown whole:\n%s", w, rows)
			}
		}
	}
}

// The bug: an error line longer than the terminal was wrapped by the terminal, mid-word. On a
// terminal it is wrapped between words under its text; piped it stays one line, as logs want.
func TestErrorsWrapBetweenWordsOnATerminalAndStayOneLinePiped(t *testing.T) {
	env := map[string]string{"NIXIFY_PUBLISH": "postgres,mysql"}
	piped := run(t, env, t.TempDir(), "config")
	if piped.code != 2 || strings.Count(piped.errOut, "\n") != 1 || !strings.HasPrefix(piped.errOut, "nixify: invalid publish \"mysql\"") {
		t.Fatalf("piped: exit %d, %q", piped.code, piped.errOut)
	}
	rows, lines, code := nixifyInTerminal(t, 80, []string{"NIXIFY_PUBLISH=postgres,mysql"}, "config")
	if code != 2 || rows != lines || strings.Count(rows, "\n") < 1 {
		t.Fatalf("exit %d; the terminal wrapped the error, or nixify did not:\n%s", code, rows)
	}
	if got, want := strings.Fields(rows), strings.Fields(piped.errOut); !slices.Equal(got, want) {
		t.Fatalf("words differ:\n got %q\nwant %q", got, want)
	}
}

// The bug: below about 34 columns reflowing a definition list never ended. Help at 30 columns
// ends, with exit 0.
func TestHelpAtANarrowTerminalEnds(t *testing.T) {
	rows, _, code := nixifyInTerminal(t, 30, nil, "info", "--help")
	if code != 0 || !strings.Contains(rows, "REGISTRY/REPO[:TAG]") {
		t.Fatalf("exit %d:\n%s", code, rows)
	}
}
