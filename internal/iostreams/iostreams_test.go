package iostreams

import (
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
)

func TestTablePipedIsTabSeparatedWithoutHeader(t *testing.T) {
	s, _, out, _ := Test()
	tb := s.NewTable("check", "status")
	tb.Row("nix", "ok")
	tb.Row("docker", "fail")
	tb.Render()
	if got, want := out.String(), "nix\tok\ndocker\tfail\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestTableOnTerminalAlignsUnderHeader(t *testing.T) {
	s, _, out, _ := Test()
	s.SetTTY(true)
	s.DisableColor()
	tb := s.NewTable("check", "status")
	tb.Row("nix", "ok")
	tb.Row("docker-engine", "fail")
	tb.Render()
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 3 || lines[0] != "CHECK          STATUS" || lines[1] != "nix            ok" {
		t.Fatalf("unexpected table:\n%s", out.String())
	}
}

func TestNoColorAndCIDetection(t *testing.T) {
	s, _, _, _ := Test()
	s.outTTY = true
	s.SetGetenv(func(k string) string {
		return map[string]string{"NO_COLOR": "1", "GITHUB_ACTIONS": "true"}[k]
	})
	if s.color {
		t.Fatal("NO_COLOR set but colour enabled")
	}
	if s.ci != GitHubActions {
		t.Fatal("GitHub Actions not detected")
	}
	s.SetGetenv(func(k string) string { return "" })
	if !s.color {
		t.Fatal("terminal without NO_COLOR should be coloured")
	}
}

func TestGroupFoldsInGitHubActions(t *testing.T) {
	s, _, _, errOut := Test()
	s.SetGetenv(func(k string) string { return map[string]string{"GITHUB_ACTIONS": "true"}[k] })
	end := s.Group("build x86_64")
	s.Errorf("line\n")
	end()
	if got, want := errOut.String(), "::group::build x86_64\nline\n::endgroup::\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestProgressWithoutTerminalPrintsPlainLinesNotRedraws(t *testing.T) {
	s, _, _, errOut := Test()
	p := s.StartProgress("loading image")
	p.Update("layer 1/2", 50, 100)
	p.Done("loaded")
	got := errOut.String()
	if strings.Contains(got, "\x1b[") {
		t.Fatalf("escape codes without a terminal: %q", got)
	}
	if strings.ContainsAny(got, strings.Join(spinnerFrames, "")) || !strings.Contains(got, "… loading image") {
		t.Fatalf("a spinner frame in plain lines (want a steady …): %q", got)
	}
	if !strings.Contains(got, "✓ loading image: loaded") {
		t.Fatalf("missing lines: %q", got)
	}
}

func TestLiveThrottlesPlainLines(t *testing.T) {
	s, _, _, errOut := Test()
	l := s.newLive(time.Hour)
	for i := range 100 {
		l.Set("step", string(rune('a'+i%26)))
	}
	l.Stop()
	// The first Set is written at once, the last state once more at Stop; nothing in between.
	if n := strings.Count(errOut.String(), "step\n"); n != 2 {
		t.Fatalf("wrote the block %d times, want 2:\n%s", n, errOut.String())
	}
}

func TestSizes(t *testing.T) {
	for _, c := range []struct {
		n   int64
		bin string
	}{{0, "0 B"}, {999, "999 B"}, {1023, "1023 B"}, {1536, "1.5 KiB"}, {100 << 20, "100 MiB"}, {3 << 30, "3 GiB"}, {-2048, "-2 KiB"}} {
		if got := Bytes(c.n); got != c.bin {
			t.Errorf("Bytes(%d) = %q, want %q", c.n, got, c.bin)
		}
	}
}

// The bug: a block line wider than the terminal wrapped onto two rows, the redraw moved up one row
// per line, and every redraw left a copy of the block in the scrollback.
func TestLiveClipsEachLineToTheTerminalAndRereadsItOnResize(t *testing.T) {
	s, _, _, errOut := Test()
	s.SetTTY(true)
	var cols atomic.Int64
	cols.Store(40)
	s.width = func() int { return int(cols.Load()) }
	l := s.NewLive()
	long := s.Styles().Bold.Render(strings.Repeat("x", 50)) + " │ " + strings.Repeat("é", 30)
	l.Set(long, "short")
	time.Sleep(250 * time.Millisecond)
	cols.Store(20)
	if err := syscall.Kill(os.Getpid(), syscall.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond)
	l.Stop()
	widths := map[int]bool{}
	for _, line := range strings.Split(errOut.String(), "\n") {
		// Each erase is \r and then, per row, up one and erase the row.
		if i := strings.LastIndex(line, "\x1b[2K"); i >= 0 {
			line = line[i+len("\x1b[2K"):]
		}
		if !strings.Contains(line, "x") {
			continue
		}
		w := lipgloss.Width(line)
		widths[w] = true
		if w > 39 || !strings.HasSuffix(line, "…") {
			t.Fatalf("a block line is %d columns wide (or not marked as cut): %q", w, line)
		}
	}
	if !widths[39] || !widths[19] {
		t.Fatalf("widths drawn %v: want 39 before the resize and 19 after", widths)
	}
}

func TestClip(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{{"hello", 0, "hello"}, {"hello", 5, "hello"}, {"hello", 4, "hel…"}, {"héllo wörld", 6, "héllo…"}, {"ab", 1, "…"}} {
		if got := Clip(c.in, c.n); got != c.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
	styled := newStyles(true).Fail.Render("failing build of something long")
	got := Clip(styled, 10)
	if lipgloss.Width(got) != 10 || !strings.HasPrefix(got, "\x1b[1;31m") || !strings.Contains(got, "\x1b[0m") {
		t.Errorf("styled clip %q: width %d, or its style is not ended", got, lipgloss.Width(got))
	}
}

func TestProgressNobodyLooksAtDoesNothing(t *testing.T) {
	s, _, out, errOut := Test()
	s.Format = JSON
	p := s.StartProgress("loading")
	p.Update("1/2", 1, 2)
	p.Done("ok")
	p.Fail("no")
	p.Stop()
	var nilP *Progress
	nilP.Update("", 0, 0)
	nilP.Done("")
	if out.Len()+errOut.Len() != 0 {
		t.Fatalf("a progress under -o json wrote %q %q", out, errOut)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"60MiB": 60 << 20, "60 MiB": 60 << 20, "1.5GiB": 3 << 29, "512KiB": 512 << 10, "1000": 1000, "1000B": 1000, "0": 0} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "60MB", "60 mb", "-1MiB", "sixty", "1e400", "NaN", "Inf", "60MiBx", "6\n0MiB"} {
		if got, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) = %d, want an error", in, got)
		}
	}
}

func TestFirstLine(t *testing.T) {
	for in, want := range map[string]string{"": "", "one": "one", "  one \n two\n": "one", "\nerror: x\nmore": "error: x"} {
		if got := FirstLine(in); got != want {
			t.Errorf("FirstLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// The bug: a live block was erased and redrawn every 100 ms whatever it held, so health --watch
// redrew ten times a second whatever --interval said, and flickered. An unchanged block is drawn
// once.
func TestLiveRedrawsOnlyWhatChanged(t *testing.T) {
	s, _, _, errOut := Test()
	s.SetTTY(true)
	s.SetWidth(80)
	l := s.NewLive()
	l.Set("SERVICE  STATUS", "redis    pass")
	time.Sleep(450 * time.Millisecond) // four ticks
	l.Set("SERVICE  STATUS", "redis    pass")
	time.Sleep(250 * time.Millisecond)
	l.Set("SERVICE  STATUS", "redis    fail")
	time.Sleep(250 * time.Millisecond)
	l.Stop()
	if n := strings.Count(errOut.String(), "redis    pass\n"); n != 1 {
		t.Fatalf("the unchanged block was drawn %d times, want 1:\n%q", n, errOut.String())
	}
	if n := strings.Count(errOut.String(), "redis    fail\n"); n != 1 {
		t.Fatalf("the changed block was drawn %d times, want 1:\n%q", n, errOut.String())
	}
}
