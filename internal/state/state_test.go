package state

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFileReplacesWholeAndLeavesNothingBehind: the directory is made, the file replaced
// whole, and no temporary file stays next to it (a reader listing closures/ would see it).
func TestWriteFileReplacesWholeAndLeavesNothingBehind(t *testing.T) {
	d := Dir(filepath.Join(t.TempDir(), ".nixify"))
	for _, data := range []string{"first, and longer\n", "second\n"} {
		if err := WriteFile(d.Builds(), []byte(data)); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(d.Builds()); string(got) != data {
			t.Errorf("read %q, want %q", got, data)
		}
	}
	if entries, _ := os.ReadDir(string(d)); len(entries) != 1 {
		t.Errorf("state directory holds %d entries, want the one file", len(entries))
	}
	if err := WriteFile(filepath.Join(d.Builds(), "x"), nil); err == nil {
		t.Error("writing under a file succeeded")
	}
}
