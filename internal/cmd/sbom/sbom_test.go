package sbom

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/build"
	"github.com/nixify/nixify/internal/build/buildtest"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/image/imagetest"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/record"
	"github.com/nixify/nixify/internal/sbom/sbomtest"
)

func TestFlags(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := &cli.Factory{IO: ios}
	var got *Options
	cmd := NewCmdSBOM(f, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--format", "spdx", "--arch", "arm64", "--provenance", "ghcr.io/o/n:v1"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Format != "spdx" || got.Arch != arch.AArch64 || !got.Provenance || got.Image != "ghcr.io/o/n:v1" {
		t.Errorf("options = %+v", got)
	}
	cmd = NewCmdSBOM(f, func(*Options) error { return nil })
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs([]string{"a", "b"})
	if err := cmd.Execute(); err == nil {
		t.Error("two images were accepted")
	}
}

// Bad input is one line with the accepted values, exit 2; a missing build is exit 1 with the fix.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	cfg := func() (*config.Loaded, error) {
		return &config.Loaded{Config: config.Config{StateDir: dir, Architectures: arch.All}}, nil
	}
	for _, tc := range []struct {
		o    Options
		code int
		want string
	}{
		{Options{Format: "swid"}, cli.ExitUsage, "accepted: cyclonedx, spdx"},
		{Options{Format: "cyclonedx", Image: "nixify-health-check:latest"}, cli.ExitUsage, "names an image in the Docker engine"},
		{Options{Format: "cyclonedx", Image: "./missing.tar"}, cli.ExitUsage, "no such file"},
		{Options{Format: "cyclonedx", Arch: arch.X86_64}, cli.ExitFailure, "nixify build --arch x86_64"},
	} {
		ios, _, out, _ := iostreams.Test()
		o := tc.o
		o.IO, o.Config = ios, cfg
		err := sbomRun(context.Background(), &o)
		if cli.Code(err) != tc.code || !strings.Contains(err.Error()+" "+cli.Hint(err), tc.want) || strings.Contains(err.Error(), "\n") || out.Len() != 0 {
			t.Errorf("%+v: code %d, %v (hint %q), stdout %q", tc.o, cli.Code(err), err, cli.Hint(err), out)
		}
	}
	// A build recorded by an older nixify (no closure record) says to build again.
	if err := (record.Store{Dir: dir}).Save(record.Build{Arch: arch.X86_64, OutPath: dir, Kind: record.Tarball}); err != nil {
		t.Fatal(err)
	}
	ios, _, _, _ := iostreams.Test()
	err := sbomRun(context.Background(), &Options{IO: ios, Config: cfg, Format: "cyclonedx", Arch: arch.X86_64})
	if cli.Code(err) != cli.ExitFailure || !strings.Contains(err.Error(), "no closure record") {
		t.Errorf("old record: %v", err)
	}
}

// An image file (here a real nix build's docker-archive) gets its SBOM from the store paths its
// layers name, read from the store: versions, sources and Go modules, valid CycloneDX and SPDX.
func TestImageFile(t *testing.T) {
	n := buildtest.Nix(t)
	t.Setenv("NIX_CONFIG", buildtest.Config)
	ref, dir := buildtest.Flake(t)
	buildtest.GoBinary(t, dir)
	res, err := build.Run(context.Background(), n, build.Options{Flake: ref, Attr: buildtest.App, Archs: []arch.Arch{arch.X86_64}, StateDir: t.TempDir(), HostSystem: "x86_64-linux"})
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"cyclonedx", "spdx"} {
		ios, _, out, _ := iostreams.Test()
		if err := sbomRun(context.Background(), &Options{IO: ios, Format: format, Image: res[0].Record.OutPath}); err != nil {
			t.Fatal(err)
		}
		if err := sbomtest.Validate(format, out.Bytes()); err != nil {
			t.Errorf("%s: %v", format, err)
		}
		for _, want := range []string{"pkg:nix/libfoo@1.0", "https://example.org/libfoo-1.0.tar", "pkg:golang/github.com/spf13/pflag@v1.0.10", res[0].Record.ConfigDigest} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s lacks %s", format, want)
			}
		}
	}
	ios, _, _, _ := iostreams.Test()
	if err := sbomRun(context.Background(), &Options{IO: ios, Format: "cyclonedx", Image: res[0].Record.OutPath, Provenance: true}); cli.Code(err) != cli.ExitUsage {
		t.Errorf("--provenance of a file: %v", err)
	}
}

// TestImageFileWithoutHistory: an image not made by dockerTools (no history naming its store
// paths) once gave an SBOM of 0 components; the store paths are read from its layers.
func TestImageFileWithoutHistory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "img.tar")
	if _, err := imagetest.WriteFile(p, imagetest.Spec{Names: []string{"glibc-2.40", "libfoo-1.1"}, NoHistory: true}); err != nil {
		t.Fatal(err)
	}
	ios, _, out, _ := iostreams.Test()
	if err := sbomRun(context.Background(), &Options{IO: ios, Format: "cyclonedx", Image: p}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pkg:nix/libfoo@1.1", "pkg:nix/glibc@2.40"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("SBOM lacks %s", want)
		}
	}
}
