package backup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/iostreams"
)

// Every wrong destination or flag is one line and exit 2, before the engine is asked anything.
func TestRefusedBeforeAnythingRuns(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "there.nxb")
	os.WriteFile(existing, []byte("keep me"), 0o600)
	for _, tc := range []struct {
		args []string
		tty  bool
		want string
	}{
		{[]string{existing}, false, "exists"},
		{[]string{filepath.Join(dir, "no", "such", "dir", "b.nxb")}, false, "does not exist"},
		{[]string{"s3://bucket/key"}, false, "S3 is not supported yet"},
		{[]string{"ftp://host/x"}, false, "accepted: a file path"},
		{[]string{"-"}, true, "terminal"},
		{[]string{"--wait", "0s", filepath.Join(dir, "b.nxb")}, false, "invalid --wait"},
	} {
		ios, _, _, _ := iostreams.Test()
		ios.SetTTY(tc.tty)
		ran := false
		cmd := NewCmdBackup(&cli.Factory{IO: ios, WorkDir: dir, Getenv: func(string) string { return "" }}, func(*Options) error { ran = true; return nil })
		cmd.SetArgs(tc.args)
		cmd.SetOut(ios.Out)
		cmd.SetErr(ios.ErrOut)
		err := cmd.Execute()
		if cli.Code(err) != cli.ExitUsage || err == nil || !strings.Contains(err.Error(), tc.want) || ran {
			t.Errorf("%v: exit %d, %v (ran %v); want exit 2 with %q", tc.args, cli.Code(err), err, ran, tc.want)
		}
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Fatal("the existing file was changed")
	}
}
