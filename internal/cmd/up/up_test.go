package up

import (
	"context"
	"errors"
	"testing"

	"github.com/nixify/nixify/internal/cli"
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
