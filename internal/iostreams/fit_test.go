package iostreams

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
)

const (
	glibc   = "/nix/store/0c4bmhvq5ac9kw4hzlxk2m0mnxxbv9f8-glibc-2.40-66"
	openssl = "/nix/store/1ry0z3lc5jfl6b6xqzmwgvjn5xr5nvy8-openssl-3.3.2"
	digest  = "sha256:3f4ca7e5c9d4e2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7"
)

// layerTable is info's layer table as a test: sizes, digests and several store paths a row.
func layerTable(s *IOStreams) *Table {
	t := s.NewTable("#", "size", "digest", "store paths", "")
	for i := range 3 {
		t.Row(fmt.Sprint(i+1), Bytes(int64(i+1)<<20), digest, glibc+" "+openssl, s.Styles().Accent.Render(strings.Repeat("█", 20-i*5)))
	}
	return t
}

// The bug: tables were as wide as their widest cell, so at 80 columns the terminal wrapped their
// rows, splitting store paths in two, and a styled empty header cell pushed the header over the
// width, which showed as a blank line under it.
func TestTableFitsTheWidthShorteningStorePathsAndDigests(t *testing.T) {
	for _, color := range []bool{false, true} {
		s, _, out, _ := Test()
		s.SetTTY(true)
		if !color {
			s.DisableColor()
		}
		s.SetWidth(80)
		layerTable(s).Render()
		lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
		if len(lines) != 4 {
			t.Fatalf("colour %v: want a header and 3 rows, got %d lines:\n%s", color, len(lines), out)
		}
		for _, l := range lines {
			if w := lipgloss.Width(l); w > 79 || strings.TrimSpace(l) == "" {
				t.Fatalf("colour %v: line of width %d (want 1 to 79): %q\n%s", color, w, l, out)
			}
		}
		if !strings.Contains(lines[1], "sha256:3f4ca7e5c9d4") || strings.Contains(lines[1], "sha256:3f4ca7e5c9d4e") {
			t.Fatalf("colour %v: the digest is not cut to 12 hex digits: %q", color, lines[1])
		}
		if !strings.Contains(lines[1], "/nix/store/0c4bmhv…-glibc") {
			t.Fatalf("colour %v: the store path is not shortened to its name: %q", color, lines[1])
		}
	}
	// Wide enough, nothing is shortened; piped, nothing ever is.
	s, _, out, _ := Test()
	s.SetTTY(true)
	s.SetWidth(300)
	layerTable(s).Render()
	if !strings.Contains(out.String(), glibc+" "+openssl) || !strings.Contains(out.String(), digest) {
		t.Fatalf("a table that fits was shortened:\n%s", out)
	}
	s, _, out, _ = Test()
	s.SetWidth(80)
	layerTable(s).Render()
	if !strings.Contains(out.String(), "\t"+digest+"\t"+glibc+" "+openssl+"\t") {
		t.Fatalf("a piped table was shortened:\n%s", out)
	}
}

// A wrap column (doctor's detail) breaks between words under its own column, never in a word.
func TestTableWrapColumnBreaksBetweenWords(t *testing.T) {
	s, _, out, _ := Test()
	s.SetTTY(true)
	s.DisableColor()
	s.SetWidth(80)
	detail := "not natively (no emulation or remote builder for aarch64-linux); nixify builds the cross-compiled output instead (no emulation needed)"
	tb := s.NewTable("check", "status", "detail").WrapColumn(2)
	tb.Row("build aarch64-linux", "warn", detail)
	tb.Row("nix", "ok", "Nix 2.8.0 at /usr/bin/nix")
	tb.Render()
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	col := strings.Index(lines[0], "DETAIL")
	var words []string
	for i, l := range lines {
		if len(l) > 79 {
			t.Fatalf("line wider than 79: %q\n%s", l, out)
		}
		if i == 0 || strings.HasPrefix(l, "nix ") {
			continue
		}
		if i > 1 && strings.TrimSpace(l[:col]) != "" {
			t.Fatalf("a continuation is not under the detail column: %q\n%s", l, out)
		}
		words = append(words, strings.Fields(l[col:])...)
	}
	if !slices.Equal(words, strings.Fields(detail)) {
		t.Fatalf("words split or lost:\n got %q\nwant %q\n%s", words, strings.Fields(detail), out)
	}
}

func TestReflowJoinsAndRewrapsParagraphsKeepingListsAndCode(t *testing.T) {
	text := `Load the image of the last build for the architecture (unless the engine holds it already),
start the container with nixify's labels.

IMAGE is one of:
  (nothing)              the last build (--arch to choose): its closure was recorded at build
                         time; the subject is the image ID
  PATH                   an image file
- a bullet that goes on and on and on and on and on and on and on and on and on
  and on

  echo "$TOKEN" | nixify push --username ci --password-stdin --image-refs refs.txt --more`
	got := Reflow(text, 60)
	want := `Load the image of the last build for the architecture
(unless the engine holds it already), start the container
with nixify's labels.

IMAGE is one of:
  (nothing)              the last build (--arch to choose):
                         its closure was recorded at build
                         time; the subject is the image ID
  PATH                   an image file
- a bullet that goes on and on and on and on and on and on
  and on and on and on and on

  echo "$TOKEN" | nixify push --username ci --password-stdin --image-refs refs.txt --more`
	if got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestShortForms(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{ShortID("sha256:" + strings.Repeat("ab", 32)), "abababababab"},
		{ShortID(strings.Repeat("0f", 32)), "0f0f0f0f0f0f"},
		{ShortID("nixify-health-check"), "nixify-health-check"},
		{shorten(digest), "sha256:3f4ca7e5c9d4"},
		{shorten("localhost:5000 sha256:abc"), "localhost:5000 sha256:abc"},
		{ShortStorePath(glibc), "/nix/store/0c4bmhv…-glibc-2.40-66"},
		{ShortStorePath("/nix/store/not-a-store-path"), "/nix/store/not-a-store-path"},
		{ShortStorePath("/home/u/store/0c4bmhvq5ac9kw4hzlxk2m0mnxxbv9f8-x"), "/home/u/store/0c4bmhv…-x"},
		{ShortStorePath(glibc + "/lib/libc.so.6"), "/nix/store/0c4bmhv…-glibc-2.40-66/lib/libc.so.6"},
		{shorten("last build (x86_64): " + glibc + ", " + digest), "last build (x86_64): /nix/store/0c4bmhv…-glibc-2.40-66, sha256:3f4ca7e5c9d4"},
		{Count(1, "layer", "layers"), "1 layer"},
		{Count(0, "layer", "layers"), "0 layers"},
		{Count(3, "retry", "retries"), "3 retries"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// A line for stdout too wide for the terminal is shortened, then clipped; piped it stays whole.
func TestFitShortensThenClipsOnATerminalOnly(t *testing.T) {
	s, _, _, _ := Test()
	s.SetWidth(70)
	line := "x86_64  last build (x86_64): " + glibc
	if got := s.Fit(line); got != line {
		t.Fatalf("piped: %q", got)
	}
	s.SetTTY(true)
	if got := s.Fit(line); got != "x86_64  last build (x86_64): /nix/store/0c4bmhv…-glibc-2.40-66" {
		t.Fatalf("terminal: %q", got)
	}
	if got := s.Fit(line + " " + openssl); lipgloss.Width(got) != 69 || !strings.HasSuffix(got, "…") {
		t.Fatalf("terminal, clipped: %q", got)
	}
}

// Any width, however narrow, gives an answer with every word: a definition whose description no
// longer fits beside its term goes under it, once.
func TestReflowAtNarrowWidths(t *testing.T) {
	text := "Some prose here.\n\n  (nothing)              the last build of each architecture (--arch to choose)\n  echo code"
	for _, w := range []int{1, 5, 10, 20, 33, 40} {
		got := Reflow(text, w)
		if !slices.Equal(strings.Fields(got), strings.Fields(text)) {
			t.Fatalf("width %d lost words:\n%s", w, got)
		}
	}
	if got := Reflow(text, 40); !strings.Contains(got, "  (nothing)\n      the last build of each") {
		t.Fatalf("a term too long for the width keeps its description beside it:\n%s", got)
	}
}
