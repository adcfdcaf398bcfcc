package closure

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestParseNameLikeNix(t *testing.T) {
	for in, want := range map[string][2]string{
		"postgresql-16.4":    {"postgresql", "16.4"},
		"redis-static-7.2.4": {"redis-static", "7.2.4"},
		"glibc-2.40-66":      {"glibc", "2.40-66"},
		"busybox-static-x86_64-unknown-linux-musl-1.36.1": {"busybox-static-x86_64-unknown-linux-musl", "1.36.1"},
		"tzdata-2024a":      {"tzdata", "2024a"},
		"source":            {"source", ""},
		"nixify-init-0.3.0": {"nixify-init", "0.3.0"},
	} {
		if n, v := ParseName(in); n != want[0] || v != want[1] {
			t.Errorf("ParseName(%q) = %q, %q; want %q, %q", in, n, v, want[0], want[1])
		}
	}
	if got := StoreName("/nix/store/aj4vw975fcdg4mrcvwlq6j5gf3ww7ds6-libfoo-1.0"); got != "libfoo-1.0" {
		t.Errorf("StoreName = %q", got)
	}
}

func path(hash byte, name string) string {
	h := make([]byte, 32)
	for i := range h {
		h[i] = hash
	}
	return "/nix/store/" + string(h) + "-" + name
}

// nix store diff-closures' cases: a version change, a rebuild at the same version, an added and a
// removed package, and the layers whose size or content changed.
func TestCompare(t *testing.T) {
	old := FromLayers([]Layer{
		{DiffID: "sha256:1", Size: 100, StorePaths: []string{path('a', "postgresql-16.4")}},
		{DiffID: "sha256:2", Size: 50, StorePaths: []string{path('b', "redis-7.2")}},
		{DiffID: "sha256:3", Size: 10, StorePaths: []string{path('c', "oldlib-1.0")}},
	})
	cur := FromLayers([]Layer{
		{DiffID: "sha256:4", Size: 120, StorePaths: []string{path('d', "postgresql-16.6")}},
		{DiffID: "sha256:5", Size: 50, StorePaths: []string{path('e', "redis-7.2")}},
		{DiffID: "sha256:6", Size: 7, StorePaths: []string{path('f', "newlib-2.0")}},
	})
	d := Compare(old, cur)
	if len(d.Changed) != 2 || d.Changed[0].Name != "postgresql" || !slices.Equal(d.Changed[0].OldVersions, []string{"16.4"}) ||
		!slices.Equal(d.Changed[0].NewVersions, []string{"16.6"}) || d.Changed[0].SizeDelta != 20 ||
		d.Changed[1].Name != "redis" || d.Changed[1].SizeDelta != 0 {
		t.Errorf("changed = %+v", d.Changed)
	}
	if len(d.Added) != 1 || d.Added[0].Name != "newlib" || d.Added[0].Size != 7 || len(d.Removed) != 1 || d.Removed[0].Name != "oldlib" {
		t.Errorf("added %+v removed %+v", d.Added, d.Removed)
	}
	// postgresql and redis layers changed content (redis at the same size), newlib and oldlib
	// come and go.
	var names []string
	for _, l := range d.Layers {
		names = append(names, l.Name)
	}
	if !slices.Equal(names, []string{"newlib", "oldlib", "postgresql", "redis"}) || d.OldSize != 160 || d.NewSize != 177 {
		t.Errorf("layers %+v, sizes %d -> %d", d.Layers, d.OldSize, d.NewSize)
	}
	if same := Compare(old, old); len(same.Changed)+len(same.Added)+len(same.Removed)+len(same.Layers) != 0 {
		t.Errorf("an image against itself: %+v", same)
	}
}

func TestStoreKeepsTheNewestPerArch(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range Keep + 3 {
		c := &Closure{Arch: "x86_64", OutPath: path(byte('a'+i), "image"), FinishedAt: base.Add(time.Duration(i) * time.Hour)}
		if _, err := s.Save(c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Save(&Closure{Arch: "aarch64", OutPath: path('z', "image"), FinishedAt: base}); err != nil {
		t.Fatal(err)
	}
	hist, err := s.History("x86_64")
	if err != nil || len(hist) != Keep || !hist[0].FinishedAt.Equal(base.Add(time.Duration(Keep+2)*time.Hour)) {
		t.Fatalf("history: %d records, newest %v, %v", len(hist), hist[0].FinishedAt, err)
	}
	if other, _ := s.History("aarch64"); len(other) != 1 {
		t.Errorf("the other architecture's record was pruned: %d", len(other))
	}
	if _, err := Load(filepath.Join(s.Dir, "missing.json")); err == nil {
		t.Error("a missing record loaded")
	}
}
