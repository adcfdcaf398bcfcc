package iostreams

import (
	"strings"
	"testing"
	"time"
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
	if s.ColorEnabled() {
		t.Fatal("NO_COLOR set but colour enabled")
	}
	if s.CI() != GitHubActions {
		t.Fatal("GitHub Actions not detected")
	}
	s.SetGetenv(func(k string) string { return "" })
	if !s.ColorEnabled() {
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
	p.Println("kept line")
	p.Done("loaded")
	got := errOut.String()
	if strings.Contains(got, "\x1b[") {
		t.Fatalf("escape codes without a terminal: %q", got)
	}
	if !strings.Contains(got, "kept line\n") || !strings.Contains(got, "✓ loading image: loaded") {
		t.Fatalf("missing lines: %q", got)
	}
}

func TestLiveThrottlesPlainLines(t *testing.T) {
	s, _, _, errOut := Test()
	l := s.NewLive(Every(time.Hour))
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
		n         int64
		bin, deci string
	}{{0, "0 B", "0 B"}, {999, "999 B", "999 B"}, {1536, "1.5 KiB", "1.5 kB"}, {100 << 20, "100 MiB", "104.9 MB"}, {3 << 30, "3 GiB", "3.2 GB"}} {
		if got := Bytes(c.n); got != c.bin {
			t.Errorf("Bytes(%d) = %q, want %q", c.n, got, c.bin)
		}
		if got := DecimalBytes(c.n); got != c.deci {
			t.Errorf("DecimalBytes(%d) = %q, want %q", c.n, got, c.deci)
		}
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
