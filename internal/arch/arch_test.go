package arch

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseAcceptsEverySpellingUsersMeet(t *testing.T) {
	for in, want := range map[string]Arch{
		"x86_64": X86_64, "amd64": X86_64, "x86_64-linux": X86_64, "linux/amd64": X86_64, " AMD64 ": X86_64,
		"aarch64": AArch64, "arm64": AArch64, "aarch64-linux": AArch64, "linux/arm64": AArch64, "ARM64": AArch64,
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// The bug this package ends: an unknown name became amd64 in one place and passed through in another.
func TestParseRefusesUnknownNamesWithOneLineSayingWhatIsAccepted(t *testing.T) {
	for _, in := range []string{"", "riscv64", "x86", "arm", "all", "x86_64,aarch64", "amd64-darwin", "linux/s390x", "x86_64\nrm -rf /"} {
		a, err := Parse(in)
		var ae *Error
		if err == nil || !errors.As(err, &ae) {
			t.Fatalf("Parse(%q) = %q, %v; want an *Error", in, a, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "x86_64 (alias amd64), aarch64 (alias arm64)") || strings.Contains(msg, "comma") {
			t.Errorf("Parse(%q): %q does not list what one architecture may be", in, msg)
		}
		if strings.Count(msg, "\n") > 1 { // %q escapes the value's own newline
			t.Errorf("Parse(%q): error is not one line: %q", in, msg)
		}
	}
}

func TestParseList(t *testing.T) {
	configured := []Arch{AArch64}
	for _, c := range []struct {
		in   string
		want []Arch
	}{
		{"", nil},
		{"  ", nil},
		{"all", []Arch{AArch64}},
		{"ALL", []Arch{AArch64}},
		{"amd64", []Arch{X86_64}},
		{"arm64,x86_64", []Arch{AArch64, X86_64}},
		{"x86_64, amd64 ,x86_64-linux", []Arch{X86_64}},
	} {
		got, err := ParseList(c.in, configured)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("ParseList(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	got, _ := ParseList("all", configured)
	got[0] = X86_64
	if configured[0] != AArch64 {
		t.Error("ParseList(all) handed out the configured slice itself; a caller's change altered the configuration")
	}
}

func TestParseListRefusesNamingTheBadItem(t *testing.T) {
	for in, bad := range map[string]string{"x86_64,riscv64": "riscv64", "amd64,": "", "all,arm64": "all", ",": ""} {
		_, err := ParseList(in, All)
		var ae *Error
		if !errors.As(err, &ae) || ae.Value != bad || !ae.List {
			t.Fatalf("ParseList(%q) = %v; want an *Error naming %q", in, err, bad)
		}
		if !strings.Contains(err.Error(), "a comma list of them, or all") {
			t.Errorf("ParseList(%q): %q does not give the list grammar", in, err)
		}
	}
}

func TestSpellings(t *testing.T) {
	for _, c := range []struct {
		a                              Arch
		goarch, system, platform, text string
	}{
		{X86_64, "amd64", "x86_64-linux", "linux/amd64", "x86_64"},
		{AArch64, "arm64", "aarch64-linux", "linux/arm64", "aarch64"},
	} {
		if c.a.GOARCH() != c.goarch || c.a.System() != c.system || c.a.Platform() != c.platform || c.a.String() != c.text || !c.a.Known() {
			t.Errorf("%s: GOARCH %s System %s Platform %s", c.a, c.a.GOARCH(), c.a.System(), c.a.Platform())
		}
		if FromOCI(c.goarch) != c.a {
			t.Errorf("FromOCI(%s) = %s, want %s", c.goarch, FromOCI(c.goarch), c.a)
		}
	}
	// An index built elsewhere may hold architectures nixify does not build: they keep their name.
	if a := FromOCI("s390x"); a != "s390x" || a.Known() || a.GOARCH() != "s390x" {
		t.Errorf("FromOCI(s390x) = %q (known %v, GOARCH %q)", a, a.Known(), a.GOARCH())
	}
}

func TestHost(t *testing.T) {
	for goarch, want := range map[string]Arch{"amd64": X86_64, "arm64": AArch64} {
		if a, err := host(goarch); err != nil || a != want {
			t.Errorf("host(%s) = %q, %v; want %q", goarch, a, err, want)
		}
	}
	_, err := host("riscv64")
	if err == nil || !strings.Contains(err.Error(), "riscv64") || !strings.Contains(err.Error(), "--arch") {
		t.Errorf("host(riscv64) = %v; want an error naming the machine and asking for --arch", err)
	}
	if _, err := Host(); err != nil {
		t.Logf("this test machine: %v", err)
	}
}
