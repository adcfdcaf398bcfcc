package build_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/build"
	"github.com/nixify/nixify/internal/build/buildtest"
	"github.com/nixify/nixify/internal/closure"
)

// appFlake is the test flake with a Go binary as the app's bin/nixify-init.
func appFlake(t *testing.T) (ref, dir string) {
	t.Helper()
	ref, dir = buildtest.Flake(t)
	buildtest.GoBinary(t, dir)
	return ref, dir
}

func find(c *closure.Closure, typ, name string) *closure.Component {
	for i := range c.Components {
		if c.Components[i].Type == typ && c.Components[i].Name == name {
			return &c.Components[i]
		}
	}
	return nil
}

func TestBuildRecordsTheImageClosure(t *testing.T) {
	n := buildtest.Nix(t)
	ref, dir := appFlake(t)
	state := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := build.Options{Flake: ref, Attr: buildtest.AppStream, Archs: []arch.Arch{arch.X86_64}, StateDir: state, HostSystem: "x86_64-linux"}
	// The attribute lives under packages.<system>, as the image's does.
	res, err := build.Run(ctx, n, o)
	if err != nil {
		t.Fatal(err)
	}
	b := res[0].Record
	if b.Closure == "" || b.Strategy != "native" || b.StartedAt.IsZero() {
		t.Fatalf("record = %+v, want a closure file, the strategy and the start", b)
	}
	c, err := closure.Load(b.Closure)
	if err != nil {
		t.Fatal(err)
	}
	if c.MetaError != "" {
		t.Errorf("meta: %s", c.MetaError)
	}
	lib := find(c, closure.Nix, "libfoo")
	if lib == nil {
		t.Fatalf("no libfoo among %+v", c.Components)
	}
	if lib.Version != "1.0" || lib.SourceURL != "https://example.org/libfoo-1.0.tar" ||
		lib.SourceHash != "9c1e5db5134a142f731b537c49ac8c4c2af17b7e577c40ff630504414c3cedb3" || lib.SourceAlgo != "sha256" ||
		!slices.Equal(lib.Licenses, []string{"MIT"}) || lib.Homepage != "https://example.org/libfoo" ||
		len(lib.NarHash) != 64 || lib.NarSize == 0 || lib.Deriver == "" {
		t.Errorf("libfoo = %+v", lib)
	}
	app := find(c, closure.Nix, "app")
	if app == nil || app.Version != "2.0" || !slices.Equal(app.Licenses, []string{"Apache-2.0"}) || !slices.Contains(app.References, lib.StorePath) {
		t.Errorf("app = %+v, want version 2.0, Apache-2.0, referring to %s", app, lib.StorePath)
	}
	if m := find(c, closure.Golang, "github.com/nixify/nixify"); m == nil || !m.Main || m.Version != "2.0" {
		t.Errorf("main module = %+v, want the app's version 2.0 for (devel)", m)
	}
	pf := find(c, closure.Golang, "github.com/spf13/pflag")
	if pf == nil || pf.Version != "v1.0.10" || pf.In != app.StorePath || pf.Binary != "bin/nixify-init" || pf.Sum == "" {
		t.Errorf("pflag module = %+v, want v1.0.10 in %s/bin/nixify-init", pf, app.StorePath)
	}
	if len(c.Layers) != 2 || c.Builder != "native" || c.Source.Installable != ref+"#packages.x86_64-linux."+buildtest.AppStream || c.FinishedAt.Before(c.StartedAt) {
		t.Errorf("closure facts: layers %d, builder %q, installable %q, %s..%s", len(c.Layers), c.Builder, c.Source.Installable, c.StartedAt, c.FinishedAt)
	}

	// A no-op rebuild does not record again.
	st, _ := os.Stat(b.Closure)
	if _, err := build.Run(ctx, n, o); err != nil {
		t.Fatal(err)
	}
	if st2, _ := os.Stat(b.Closure); !st2.ModTime().Equal(st.ModTime()) {
		t.Error("a no-op rebuild wrote the closure record again")
	}

	// Another version of one dependency: the diff names it.
	if err := os.WriteFile(filepath.Join(dir, "version"), []byte("1.1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := build.Run(ctx, n, o); err != nil {
		t.Fatal(err)
	}
	hist, err := closure.In(state).History("x86_64")
	if err != nil || len(hist) != 2 {
		t.Fatalf("history: %d records, %v", len(hist), err)
	}
	d := closure.Compare(hist[1], hist[0])
	var changed []string
	for _, ch := range d.Changed {
		changed = append(changed, ch.Name+" "+ch.OldVersions[0]+" -> "+ch.NewVersions[0])
	}
	if !slices.Contains(changed, "libfoo 1.0 -> 1.1") || !slices.Contains(changed, "app 2.0 -> 2.0") || len(d.Added)+len(d.Removed) != 0 {
		t.Errorf("diff = %+v, want libfoo 1.0 -> 1.1 and app rebuilt", d)
	}
}

// BenchmarkClosure compares, in one run, a no-op rebuild (which finds the closure recorded and
// reads nothing) with recording the closure afresh (path-info, two derivation reads, the meta
// evaluation and the Go binaries' build information), on the test flake's image:
//
//	CI=true go test -run '^$' -bench BenchmarkClosure -count 5 ./internal/build
func BenchmarkClosure(b *testing.B) {
	n := buildtest.Nix(b)
	ref, dir := buildtest.Flake(b)
	buildtest.GoBinary(b, dir)
	state := b.TempDir()
	ctx := context.Background()
	o := build.Options{Flake: ref, Attr: buildtest.AppStream, Archs: []arch.Arch{arch.X86_64}, StateDir: state, HostSystem: "x86_64-linux"}
	res, err := build.Run(ctx, n, o)
	if err != nil {
		b.Fatal(err)
	}
	c, err := closure.Load(res[0].Record.Closure)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("no-op rebuild", func(b *testing.B) {
		for b.Loop() {
			if _, err := build.Run(ctx, n, o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("record closure", func(b *testing.B) {
		in := closure.Input{Closure: *c, ImageLayers: c.Layers}
		for b.Loop() {
			if _, err := closure.Record(ctx, n, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
