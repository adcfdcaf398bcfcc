// Package start implements `nixify start` and `nixify restart`: start nixify's existing container
// again (with its data), or stop it gracefully and start it, and wait until it is healthy.
package start

import (
	"context"
	"fmt"
	"time"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/spf13/cobra"
)

// Options is what `nixify start` and `nixify restart` need.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)
	Engine func() (engine.Engine, error)

	Restart     bool
	Timeout     time.Duration // to become healthy
	StopTimeout time.Duration // restart: for the ordered shutdown
}

// NewCmdStart wires `nixify start`; runF replaces the run function in tests.
func NewCmdStart(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Start the stopped container again, with its data, and wait until it is healthy",
		Long: `Start nixify's existing container again, as it was made (image, ports, environment,
volume), and wait until the health server says ready. A running container is left as it is.

Exit codes: as ` + "`nixify run`" + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return validateAndRun(cmd, opts, runF) },
	}
	addFlags(f, cmd, opts)
	return cmd
}

// NewCmdRestart wires `nixify restart`; runF replaces the run function in tests.
func NewCmdRestart(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine, Restart: true}
	cmd := &cobra.Command{
		Use:   "restart",
		Short: "Stop the container gracefully, start it again and wait until it is healthy",
		Long: `Stop nixify's container with the init's ordered shutdown (as ` + "`nixify stop`" + `), start it
again and wait until the health server says ready. The data stays.

Exit codes: as ` + "`nixify run`" + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return validateAndRun(cmd, opts, runF) },
	}
	addFlags(f, cmd, opts)
	cmd.Flags().DurationVar(&opts.StopTimeout, "stop-timeout", 0, "how long to wait for the ordered shutdown before the engine kills the container (default: the container's own, set by run --stop-timeout, 15s unless said)")
	return cmd
}

func addFlags(f *cli.Factory, cmd *cobra.Command, opts *Options) {
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 2*time.Minute, "how long to wait for the container to be healthy")
	shared.AddContainerFlag(f, cmd)
}

func validateAndRun(cmd *cobra.Command, opts *Options, runF func(*Options) error) error {
	if opts.Timeout <= 0 {
		return cli.Usagef("invalid --timeout %s: accepted: a positive duration, e.g. 2m", opts.Timeout)
	}
	if opts.Restart && cmd.Flags().Changed("stop-timeout") && opts.StopTimeout < time.Second {
		return cli.Usagef("invalid --stop-timeout %s: accepted: 1s or more", opts.StopTimeout)
	}
	if runF != nil {
		return runF(opts)
	}
	return startRun(cmd.Context(), opts)
}

func startRun(ctx context.Context, opts *Options) error {
	x, err := shared.FindContainer(ctx, opts.Config, opts.Engine)
	if err != nil {
		return err
	}
	defer x.Close()
	c := x.Container
	began := time.Now()
	if c.Running && !opts.Restart {
		opts.IO.Errorf("%s %s is running already\n", opts.IO.Styles().OK.Render("✓"), c.Name)
		return nil
	}
	if c.Running {
		p := opts.IO.StartProgress("stopping " + c.Name)
		st, err := container.Stop(ctx, x.Engine, c.Name, opts.StopTimeout)
		if err != nil {
			p.Fail("")
			return shared.EngineError(err)
		}
		p.Done(fmt.Sprintf("stopped, exit code %d", st.ExitCode))
		if c, err = x.Engine.ContainerInspect(ctx, c.ID); err != nil {
			return shared.EngineError(err)
		}
	}
	exited, err := container.StartAgain(ctx, x.Engine, c)
	if err != nil {
		return shared.StartError(err)
	}
	return shared.Await(ctx, opts.IO, x.Engine, c.ID, exited, opts.Timeout, began, nil)
}
