package sbom

import (
	"context"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/record"
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
		{Options{Format: "cyclonedx", Image: "nixify-health-check:latest"}, cli.ExitUsage, "not a registry reference"},
		{Options{Format: "cyclonedx", Image: "ghcr.io/o/n:bad\ntag"}, cli.ExitUsage, "invalid image reference"},
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
