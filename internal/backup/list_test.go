package backup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/iostreams"
)

func TestListDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, created time.Time, image string) {
		s, _ := NewSpool(t.TempDir())
		defer s.Close()
		s.Add("redis/dump.rdb", 0o600, created, strings.NewReader("REDIS"))
		f, _ := os.Create(filepath.Join(dir, name))
		defer f.Close()
		if _, err := s.WriteTo(f, Manifest{Created: created, Image: image, Services: []Service{{Name: "redis", Version: "7.0.15"}}}); err != nil {
			t.Fatal(err)
		}
	}
	write("old.nxb", time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), "nixify:old")
	write("new.nxb", time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC), "nixify:new")
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a backup"), 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	l, skipped, err := ListDir(dir)
	if err != nil || skipped != 1 || len(l) != 2 || l[0].Image != "nixify:new" || l[1].Image != "nixify:old" {
		t.Fatalf("%+v, %d skipped, %v", l, skipped, err)
	}
	ios, _, out, errOut := iostreams.Test()
	PrintList(ios, l, skipped)
	if !strings.Contains(out.String(), "2026-12-04 17:00") || !strings.Contains(out.String(), "redis 7.0.15") || !strings.Contains(errOut.String(), "1 other file") {
		t.Fatalf("table: %q %q", out.String(), errOut.String())
	}
	if _, _, err := ListDir(filepath.Join(dir, "absent")); !os.IsNotExist(err) {
		t.Fatalf("absent dir: %v", err)
	}
}
