// Package up implements `nixify up`, the one command for the main job: build the image when the
// flake changed (build.Needed, then the build step the root command hands it), run it in place of
// nixify's previous container (the run shared with `nixify run`), and wait until it is healthy.
package up

import (
	"context"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/build"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/nix"
	"github.com/spf13/cobra"
)

// Options is what `nixify up` needs: how to run, plus the build step.
type Options struct {
	Run *shared.RunOptions
	IO  *iostreams.IOStreams
	// Needed says whether the flake changed since the architecture's last build (build.Needed).
	Needed func(ctx context.Context, a arch.Arch) (bool, string, error)
	// Build brings the architecture's build record up to date; nil when this nixify has no build
	// step, and up then runs the last build.
	Build   func(ctx context.Context, a arch.Arch) error
	NoBuild bool
	// Start runs the container and waits until healthy: shared.Run.
	Start func(ctx context.Context, o *shared.RunOptions) error
}

// NewCmdUp wires the command with the build step to use (nil: none); runF replaces the run
// function in tests.
func NewCmdUp(f *cli.Factory, buildStep func(ctx context.Context, a arch.Arch) error, runF func(*Options) error) *cobra.Command {
	ro := &shared.RunOptions{IO: f.IO, Config: f.Config, Engine: f.Engine, ReplaceOwn: true}
	opts := &Options{Run: ro, IO: f.IO, Needed: flakeChanged(f), Build: buildStep, Start: shared.Run}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Build when the flake changed, run, and wait until healthy: the main job in one command",
		Long: `Build the image for the architecture (Nix rebuilds only when the flake changed), replace
nixify's previous container with one from the new image, wait until the health server says ready
and print the health of each service and how to connect to the published ones. The data volume is
kept. Every check (image, ports, volume) is done before the previous container is removed.

Exit codes: as ` + "`nixify run`" + `; a failed build exits 1.`,
		Example: `  nixify up
  nixify up --flake github:owner/repo --attr docker-image-static
  nixify up --publish all
  nixify up --no-build --port 9090`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := ro.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return upRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	cli.ArchFlag(cmd, &ro.Arch, "architecture to build and run")
	fl.BoolVar(&opts.NoBuild, "no-build", false, "run the last build without building")
	// As build has them: the build step and the "did the flake change" check both read the keys.
	fl.String("flake", "", "flake reference that defines the image (config key flake, default .)")
	fl.String("attr", "", "package attribute of the image (config key attr, default docker-image-static)")
	f.BindFlag("flake", fl.Lookup("flake"))
	f.BindFlag("attr", fl.Lookup("attr"))
	shared.AddRunFlags(f, cmd, ro)
	return cmd
}

func upRun(ctx context.Context, opts *Options) error {
	if err := cli.HostArchIfEmpty(&opts.Run.Arch); err != nil {
		return err
	}
	if !opts.NoBuild {
		if err := buildIfNeeded(ctx, opts); err != nil {
			return err
		}
	}
	return opts.Start(ctx, opts.Run)
}

func buildIfNeeded(ctx context.Context, opts *Options) error {
	st := opts.IO.Styles()
	need, reason, err := opts.Needed(ctx, opts.Run.Arch)
	switch {
	case err != nil:
		return err
	case !need:
		opts.IO.Errorf("%s no build needed: %s\n", st.OK.Render("✓"), reason)
		return nil
	case opts.Build == nil:
		opts.IO.Errorf("%s this nixify has no build step; running the last build\n", st.Warn.Render("!"))
		return nil
	}
	opts.IO.Errorf("%s building: %s\n", st.Accent.Render("→"), reason)
	return opts.Build(ctx, opts.Run.Arch)
}

// flakeChanged asks the build package whether the flake changed since arch's last build.
func flakeChanged(f *cli.Factory) func(ctx context.Context, a arch.Arch) (bool, string, error) {
	return func(ctx context.Context, a arch.Arch) (bool, string, error) {
		l, err := f.Config()
		if err != nil {
			return false, "", err
		}
		n, err := nix.Find()
		if err != nil {
			return false, "", cli.Unavailable(err, nix.InstallHint+"; or run the last build with `nixify up --no-build`")
		}
		c := l.Config
		need, reason, err := build.Needed(ctx, n, build.Options{Flake: c.Flake, Attr: c.Attr, Archs: []arch.Arch{a}, StateDir: c.StateDir})
		if err != nil {
			return false, "", cli.Fail(err)
		}
		return need, reason, nil
	}
}
