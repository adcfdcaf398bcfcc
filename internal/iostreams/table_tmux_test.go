package iostreams_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/testpeer"
)

// TestTableHelperProcess is not a test: TestTableInAn80ColumnTerminal runs it in tmux.
func TestTableHelperProcess(t *testing.T) {
	if os.Getenv("NIXIFY_TABLE_HELPER") == "" {
		return
	}
	s := iostreams.System()
	tb := s.NewTable("#", "size", "digest", "store paths", "")
	for i := range 3 {
		tb.Row(fmt.Sprint(i+1), iostreams.Bytes(int64(i+1)<<20), "sha256:"+strings.Repeat("3f4ca7e5", 8),
			"/nix/store/0c4bmhvq5ac9kw4hzlxk2m0mnxxbv9f8-glibc-2.40-66 /nix/store/1ry0z3lc5jfl6b6xqzmwgvjn5xr5nvy8-openssl-3.3.2",
			s.Styles().Accent.Render(strings.Repeat("█", 20-i*5)))
	}
	tb.Render()
	os.Exit(0)
}

// The same table in a real terminal 80 columns wide: no row is wrapped by the terminal.
func TestTableInAn80ColumnTerminal(t *testing.T) {
	term := testpeer.StartTerminal(t, 80, 20, []string{"NIXIFY_TABLE_HELPER=1"}, os.Args[0], "-test.run=^TestTableHelperProcess$")
	if code := term.Wait(30 * time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, term.Screen(false))
	}
	rows, lines := term.Screen(false), term.Screen(true)
	if rows != lines || strings.Count(rows, "\n") != 3 || !strings.Contains(rows, "/nix/store/0c4bmhv…-glibc") {
		t.Fatalf("the table does not fit 80 columns:\n%s", rows)
	}
}
