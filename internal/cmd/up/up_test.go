package up

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/cli"
	runcmd "github.com/nixify/nixify/internal/cmd/run"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/spf13/cobra"
)

func TestBuildStepRunsTheSiblingBuildCommand(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	f := &cli.Factory{IO: io, Getenv: func(string) string { return "" }}
	var builtArch string
	build := &cobra.Command{Use: "build", RunE: func(cmd *cobra.Command, args []string) error {
		builtArch, _ = cmd.Flags().GetString("arch")
		return nil
	}}
	build.Flags().String("arch", "", "")
	var got *Options
	rootCmd := &cobra.Command{Use: "nixify"}
	upCmd := NewCmdUp(f, func(o *Options) error { got = o; return nil })
	rootCmd.AddCommand(build, upCmd)
	rootCmd.SetArgs([]string{"up", "--arch", "arm64"})
	if err := rootCmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Run.Arch != "aarch64" || !got.Run.ReplaceOwn {
		t.Fatalf("options: %+v", got.Run)
	}
	if err := got.Build(context.Background(), got.Run.Arch); err != nil || builtArch != "aarch64" {
		t.Fatalf("build step: %v, arch %q", err, builtArch)
	}

	alone := &cobra.Command{Use: "nixify"}
	upCmd = NewCmdUp(f, func(o *Options) error { got = o; return nil })
	alone.AddCommand(upCmd)
	alone.SetArgs([]string{"up"})
	if err := alone.Execute(); err != nil {
		t.Fatal(err)
	}
	if err := got.Build(context.Background(), "x86_64"); !errors.Is(err, ErrNoBuilder) {
		t.Fatalf("without a build command: %v, want ErrNoBuilder", err)
	}
}

func TestUpBuildsOnlyWhenNeeded(t *testing.T) {
	boom := errors.New("builder failed")
	cases := []struct {
		name             string
		need             bool
		needErr          error
		buildErr         error
		wantBuild, wantR bool
		wantErr          error
		wantMsg          string
	}{
		{name: "unchanged", need: false, wantR: true, wantMsg: "no build needed: same"},
		{name: "changed", need: true, wantBuild: true, wantR: true, wantMsg: "building: same"},
		{name: "no builder", need: true, buildErr: ErrNoBuilder, wantBuild: true, wantR: true, wantMsg: "running the last build"},
		{name: "build fails", need: true, buildErr: boom, wantBuild: true, wantErr: boom},
		{name: "cannot tell", needErr: boom, wantErr: boom},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			io, _, _, errOut := iostreams.Test()
			var built, ran bool
			o := &Options{IO: io, Run: &runcmd.Options{Arch: "x86_64"},
				Needed: func(context.Context, arch.Arch) (bool, string, error) { return c.need, "same", c.needErr },
				Build:  func(context.Context, arch.Arch) error { built = true; return c.buildErr },
				Start:  func(context.Context, *runcmd.Options) error { ran = true; return nil },
			}
			err := upRun(context.Background(), o)
			if !errors.Is(err, c.wantErr) || built != c.wantBuild || ran != c.wantR {
				t.Fatalf("err %v built %v ran %v", err, built, ran)
			}
			if c.wantMsg != "" && !strings.Contains(errOut.String(), c.wantMsg) {
				t.Fatalf("stderr %q lacks %q", errOut.String(), c.wantMsg)
			}
		})
	}
}
