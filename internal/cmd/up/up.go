// Package up implements `nixify up`, the one command for the main job: build the image when the
// flake changed (build.Needed, then the build command), run it in place of nixify's previous container, and wait until it is healthy.
package up

import (
	"context"
	"errors"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/build"
	"github.com/nixify/nixify/internal/cli"
	runcmd "github.com/nixify/nixify/internal/cmd/run"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/nix"
	"github.com/spf13/cobra"
)

// Options is what `nixify up` needs: run's options plus the build step.
type Options struct {
	Run *runcmd.Options
	IO  *iostreams.IOStreams
	// Needed says whether the flake changed since the architecture's last build (build.Needed).
	Needed func(ctx context.Context, a arch.Arch) (bool, string, error)
	// Build brings the architecture's build record up to date; ErrNoBuilder when this nixify has
	// no build command.
	Build   func(ctx context.Context, a arch.Arch) error
	NoBuild bool
	// Start runs the container and waits until healthy: runcmd.Run.
	Start func(ctx context.Context, o *runcmd.Options) error
}

// ErrNoBuilder means no build step is available; up then runs the last build.
var ErrNoBuilder = errors.New("no build command in this nixify")

// NewCmdUp wires the command; runF replaces the run function in tests.
func NewCmdUp(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	ro := &runcmd.Options{IO: f.IO, Config: f.Config, Engine: f.Engine, ReplaceOwn: true}
	opts := &Options{Run: ro, IO: f.IO, Needed: flakeChanged(f), Start: runcmd.Run}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Build when the flake changed, run, and wait until healthy: the main job in one command",
		Long: `Build the image for the architecture (Nix rebuilds only when the flake changed), replace
nixify's previous container with one from the new image, wait until the health server says ready
and print the health of each service. The data volume is kept.

Exit codes: as ` + "`nixify run`" + `; a failed build exits 1.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := ro.Validate(); err != nil {
				return err
			}
			if opts.Build == nil {
				opts.Build = siblingBuild(cmd)
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
	runcmd.AddStartFlags(cmd, ro)
	runcmd.AddContainerFlags(f, cmd)
	return cmd
}

func upRun(ctx context.Context, opts *Options) error {
	if err := cli.HostArchIfEmpty(&opts.Run.Arch); err != nil {
		return err
	}
	if !opts.NoBuild {
		st := opts.IO.Styles()
		need, reason, err := opts.Needed(ctx, opts.Run.Arch)
		if err != nil {
			return err
		}
		if !need {
			opts.IO.Errorf("%s no build needed: %s\n", st.OK.Render("✓"), reason)
		} else {
			opts.IO.Errorf("%s building: %s\n", st.Accent.Render("→"), reason)
			err := opts.Build(ctx, opts.Run.Arch)
			switch {
			case errors.Is(err, ErrNoBuilder):
				opts.IO.Errorf("%s this nixify has no build command; running the last build\n", st.Warn.Render("!"))
			case err != nil:
				return err
			}
		}
	}
	return opts.Start(ctx, opts.Run)
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
			return false, "", cli.Failed(err, "")
		}
		return need, reason, nil
	}
}

// siblingBuild runs the `build` command registered beside up, so that up follows whatever build
// does (and its flags) without a second copy of it.
func siblingBuild(cmd *cobra.Command) func(ctx context.Context, a arch.Arch) error {
	return func(ctx context.Context, a arch.Arch) error {
		b, _, err := cmd.Root().Find([]string{"build"})
		if err != nil || b == nil || b == cmd.Root() || b.RunE == nil {
			return ErrNoBuilder
		}
		if err := b.ParseFlags([]string{"--arch", a.String()}); err != nil {
			return cli.UsageError(err)
		}
		b.SetContext(ctx)
		return b.RunE(b, nil)
	}
}
