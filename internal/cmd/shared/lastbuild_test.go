package shared

import (
	"os"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/state"
)

// TestLastBuildExitCodes: no build is a failure with the way to make one (1); a damaged record is
// a bad file (2, as the README's table says; it once exited 1).
func TestLastBuildExitCodes(t *testing.T) {
	dir := t.TempDir()
	_, err := LastBuild(dir, "x86_64", "or name an archive")
	if cli.Code(err) != cli.ExitFailure || !strings.Contains(err.Error(), "nixify build --arch x86_64") || cli.Hint(err) != "or name an archive" {
		t.Errorf("no build: exit %d, %v (hint %q)", cli.Code(err), err, cli.Hint(err))
	}
	if err := os.WriteFile(state.Dir(dir).Builds(), []byte(`{"builds": {"x86_64": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LastBuild(dir, "x86_64", "")
	if cli.Code(err) != cli.ExitUsage || !strings.Contains(err.Error(), "is damaged") || strings.Contains(err.Error(), "\n") {
		t.Errorf("damaged record: exit %d, %v", cli.Code(err), err)
	}
	if Recorded(dir) != nil {
		t.Error("a damaged record names builds")
	}
}
