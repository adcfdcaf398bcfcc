package record

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/state"
)

func TestSaveLatestReplaceClear(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "image.tar.gz")
	os.WriteFile(out, []byte("x"), 0o644)
	s := Store{Dir: filepath.Join(dir, "state")}

	if _, err := s.Latest("x86_64"); !errors.Is(err, ErrNoBuild) || !strings.Contains(err.Error(), "nixify build --arch x86_64") {
		t.Fatalf("empty store: %v", err)
	}
	if err := s.Save(Build{Arch: "x86_64", OutPath: out, Kind: Tarball, ConfigDigest: "sha256:a"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(Build{Arch: "aarch64", OutPath: out, Kind: Stream}); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(Build{Arch: "x86_64", OutPath: out, Kind: Tarball, ConfigDigest: "sha256:b"}); err != nil {
		t.Fatal(err)
	}
	b, err := s.Latest("x86_64")
	if err != nil || b.ConfigDigest != "sha256:b" {
		t.Fatalf("latest: %+v %v", b, err)
	}
	all, _ := s.All()
	if len(all) != 2 || all[0].Arch != "aarch64" {
		t.Fatalf("all: %+v", all)
	}
	os.Remove(out)
	if _, err := s.Latest("x86_64"); !errors.Is(err, ErrNoBuild) || !strings.Contains(err.Error(), "is gone") {
		t.Fatalf("collected output: %v", err)
	}
	if err := os.MkdirAll(state.Dir(s.Dir).Closures(), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(state.Dir(s.Dir).Closures(), "x.json"), []byte("{}"), 0o644)
	if err := s.Clear(); err != nil {
		t.Fatal(err)
	}
	if all, _ := s.All(); len(all) != 0 {
		t.Fatalf("after clear: %+v", all)
	}
	if _, err := os.Stat(state.Dir(s.Dir).Closures()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("closure records survive clear: %v", err)
	}
	if err := s.Clear(); err != nil {
		t.Fatalf("clearing twice: %v", err)
	}
}

func TestDamagedRecordSaysHowToRecover(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(state.Dir(dir).Builds(), []byte("{"), 0o644)
	_, err := Store{Dir: dir}.All()
	if err == nil || !strings.Contains(err.Error(), "is damaged") {
		t.Fatalf("err = %v", err)
	}
}

func TestBuildTimesMergeAndSurviveDamage(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	if len(s.Times()) != 0 {
		t.Fatal("times before any build")
	}
	if err := s.SaveTimes(Times{"redis-7.2": 90 * time.Second, "glibc": time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveTimes(Times{"redis-7.2": 80 * time.Second}); err != nil {
		t.Fatal(err)
	}
	got := s.Times()
	if got["redis-7.2"] != 80*time.Second || got["glibc"] != time.Second {
		t.Fatalf("times %v", got)
	}
	os.WriteFile(state.Dir(s.Dir).BuildTimes(), []byte("{not json"), 0o644)
	if len(s.Times()) != 0 {
		t.Fatal("a damaged file gave times")
	}
	s.SaveTimes(Times{"x": time.Second})
	if err := s.Clear(); err != nil || len(s.Times()) != 0 || s.Clear() != nil {
		t.Fatalf("clear kept the times: %v", err)
	}
}
