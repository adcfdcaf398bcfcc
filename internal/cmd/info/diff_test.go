package info

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/build"
	"github.com/nixify/nixify/internal/build/buildtest"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/image/imagetest"
	"github.com/nixify/nixify/internal/iostreams"
)

// Two real builds of the test flake's image that differ in one dependency's version: --diff of
// the last two builds (from their closure records) and of the two image files (from the store
// paths their layers name) both say libfoo 1.0 -> 1.1 and that app, which refers to it, was
// rebuilt; -o json carries the same.
func TestDiffOfTwoBuildsNamesTheChangedVersion(t *testing.T) {
	n := buildtest.Nix(t)
	ref, dir := buildtest.Flake(t)
	state := t.TempDir()
	ctx := context.Background()
	o := build.Options{Flake: ref, Attr: buildtest.App, Archs: []arch.Arch{arch.X86_64}, StateDir: state, HostSystem: "x86_64-linux"}
	first, err := build.Run(ctx, n, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "version"), []byte("1.1"), 0o644); err != nil {
		t.Fatal(err)
	}
	second, err := build.Run(ctx, n, o)
	if err != nil {
		t.Fatal(err)
	}
	cfg := func() (*config.Loaded, error) {
		return &config.Loaded{Config: config.Config{StateDir: state, Architectures: []arch.Arch{arch.X86_64}}}, nil
	}
	for _, sources := range [][]string{nil, {first[0].Record.OutPath, second[0].Record.OutPath}} {
		ios, _, out, _ := iostreams.Test()
		if err := infoRun(ctx, &Options{IO: ios, Config: cfg, Diff: true, DiffSources: sources}); err != nil {
			t.Fatal(err)
		}
		text := out.String()
		for _, want := range []string{"libfoo", "1.0 -> 1.1", "app", "2.0 (rebuilt)", "total"} {
			if !strings.Contains(text, want) {
				t.Errorf("diff of %v lacks %q:\n%s", sources, want, text)
			}
		}
		ios, _, out, _ = iostreams.Test()
		ios.Format = iostreams.JSON
		if err := infoRun(ctx, &Options{IO: ios, Config: cfg, Diff: true, DiffSources: sources}); err != nil {
			t.Fatal(err)
		}
		var rep DiffReport
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Diffs) != 1 {
			t.Fatalf("json: %v %s", err, out)
		}
		d := rep.Diffs[0]
		var libfoo bool
		for _, c := range d.Changed {
			libfoo = libfoo || (c.Name == "libfoo" && c.OldVersions[0] == "1.0" && c.NewVersions[0] == "1.1")
		}
		if !libfoo || d.Added == nil || d.Removed == nil || len(d.Layers) == 0 || d.OldSize == 0 || d.NewSize == 0 || d.Architecture != "amd64" {
			t.Errorf("json diff = %+v", d)
		}
	}

	// Bad input: one line each, usage errors exit 2.
	ios, _, _, _ := iostreams.Test()
	if err := infoRun(ctx, &Options{IO: ios, Config: cfg, Diff: true, DiffSources: []string{"only-one"}}); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("--diff with one source: %v", err)
	}
	empty := func() (*config.Loaded, error) {
		return &config.Loaded{Config: config.Config{StateDir: t.TempDir(), Architectures: []arch.Arch{arch.X86_64}}}, nil
	}
	if err := infoRun(ctx, &Options{IO: ios, Config: empty, Diff: true}); err == nil || !strings.Contains(err.Error(), "no two recorded builds") {
		t.Errorf("--diff without builds: %v", err)
	}
}

// TestDiffReadsWhatTheLayersHold: images without dockerTools' history comments (buildImage,
// nix2container, a hand-made layout) once compared as "the same packages" although a library went
// from 1.0 to 1.1; the store paths are read from the layers themselves.
func TestDiffReadsWhatTheLayersHold(t *testing.T) {
	dir := t.TempDir()
	old, cur := filepath.Join(dir, "old.tar"), filepath.Join(dir, "new.tar.gz")
	if _, err := imagetest.WriteFile(old, imagetest.Spec{Names: []string{"glibc-2.40", "libfoo-1.0"}, NoHistory: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := imagetest.WriteFile(cur, imagetest.Spec{Names: []string{"glibc-2.40", "libfoo-1.1"}, NoHistory: true, Compress: "gzip"}); err != nil {
		t.Fatal(err)
	}
	ios, _, out, _ := iostreams.Test()
	ios.Format = iostreams.JSON
	if err := infoRun(context.Background(), &Options{IO: ios, Diff: true, DiffSources: []string{old, cur}}); err != nil {
		t.Fatal(err)
	}
	var rep DiffReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Diffs) != 1 || len(rep.Diffs[0].Changed) != 1 || rep.Diffs[0].Changed[0].Name != "libfoo" ||
		strings.Join(rep.Diffs[0].Changed[0].OldVersions, ",") != "1.0" || strings.Join(rep.Diffs[0].Changed[0].NewVersions, ",") != "1.1" {
		t.Errorf("diff = %s", out)
	}
}
