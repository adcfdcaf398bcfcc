// Package stop implements `nixify stop`: the graceful stop of nixify's container, in which the init
// shuts its services down in order.
package stop

import (
	"context"
	"errors"
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

// Options is what `nixify stop` needs.
type Options struct {
	IO      *iostreams.IOStreams
	Config  func() (*config.Loaded, error)
	Engine  func() (engine.Engine, error)
	Timeout time.Duration
}

// NewCmdStop wires the command; runF replaces the run function in tests.
func NewCmdStop(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "stop",
		Short: "Stop the container gracefully and report how long it took",
		Long: `Stop nixify's container: the engine sends SIGTERM, nixify-init stops Garage, Redis and
PostgreSQL in order (Redis saves, PostgreSQL shuts down fast), and after --timeout the engine kills
what is left. The container and its data volume stay; ` + "`nixify start`" + ` (or ` + "`nixify run`" + `) starts it again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("timeout") && opts.Timeout < time.Second {
				return cli.Usagef("invalid --timeout %s: accepted: 1s or more", opts.Timeout)
			}
			if runF != nil {
				return runF(opts)
			}
			return stopRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 0, "how long to wait for the ordered shutdown before the engine kills the container (default: the container's own, set by run --stop-timeout, 15s unless said)")
	shared.AddContainerFlag(f, cmd)
	return cmd
}

func stopRun(ctx context.Context, opts *Options) error {
	cfg, eng, err := shared.Connect(ctx, opts.Config, opts.Engine)
	if err != nil {
		return err
	}
	defer eng.Close()
	name := cfg.Container
	p := opts.IO.StartProgress("stopping " + name)
	st, err := container.Stop(ctx, eng, name, opts.Timeout)
	if err != nil {
		if ctx.Err() != nil {
			p.Stop()
			return ctx.Err()
		}
		if errors.Is(err, engine.ErrNotFound) {
			p.Stop() // nothing was being stopped: the error line says it all
			return shared.NoContainer(name, "nothing to stop; `nixify run` starts one")
		}
		p.Fail("")
		return cli.Fail(err)
	}
	switch {
	case !st.WasRunning:
		p.Done(fmt.Sprintf("it was not running (last exit code %d)", st.ExitCode))
	case st.Killed:
		p.Fail(fmt.Sprintf("killed after %s: the ordered shutdown did not finish (exit code %d)", st.Took.Round(10*time.Millisecond), st.ExitCode))
	default:
		p.Done(fmt.Sprintf("stopped, exit code %d", st.ExitCode))
	}
	if opts.IO.WantsJSON() {
		if err := opts.IO.WriteJSON(st); err != nil {
			return err
		}
	}
	if st.Killed {
		return cli.Silent(cli.ExitFailure)
	}
	return nil
}
