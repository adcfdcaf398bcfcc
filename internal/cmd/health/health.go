// Package health implements `nixify health`: the health of the running container, asked of its
// health server through the published port, with the engine's own healthcheck state beside it.
package health

import (
	"context"
	"errors"
	"time"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/spf13/cobra"
)

// Options is what `nixify health` needs.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)
	Engine func() (engine.Engine, error)

	Wait     time.Duration
	Watch    bool
	Interval time.Duration
}

// NewCmdHealth wires the command; runF replaces the run function in tests.
func NewCmdHealth(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Show the health of the running container's services",
		Long: `Ask the container's health server, through the published port, how PostgreSQL, Redis and
Garage are, and show the engine's own healthcheck state beside it.

Exit codes: 0 healthy (pass or warn); 3 not healthy (a service fails, the health server does not
answer, or the container does not run); 4 the Docker engine cannot be reached.
--wait keeps asking until healthy or the duration passes: what CI scripts use after ` + "`nixify run`" + `.`,
		Example: `  nixify health
  nixify health --wait 60s
  nixify health --watch
  nixify health -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Wait < 0 {
				return cli.Usagef("invalid --wait %s: accepted: a duration of 0 or more, e.g. 60s", opts.Wait)
			}
			if opts.Interval <= 0 {
				return cli.Usagef("invalid --interval %s: accepted: a positive duration, e.g. 2s", opts.Interval)
			}
			if runF != nil {
				return runF(opts)
			}
			return healthRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.Wait, "wait", 0, "keep asking until healthy or this long has passed (e.g. 60s)")
	cmd.Flags().BoolVar(&opts.Watch, "watch", false, "keep showing the health until Ctrl-C")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 2*time.Second, "time between checks with --watch")
	shared.AddContainerFlag(f, cmd)
	return cmd
}

func healthRun(ctx context.Context, opts *Options) error {
	l, err := opts.Config()
	if err != nil {
		return err
	}
	eng, err := container.Connect(ctx, opts.Engine)
	if err != nil {
		return err
	}
	defer eng.Close()
	name := l.Config.Container
	collect := func() (shared.Report, error) {
		c, err := eng.ContainerInspect(ctx, name)
		switch {
		case errors.Is(err, engine.ErrNotFound):
			return shared.Report{Container: name}, shared.NoContainer(name, "start it with `nixify run`")
		case err != nil:
			return shared.Report{Container: name}, shared.EngineError(err)
		}
		return shared.Collect(ctx, c, eng.Endpoint()), nil
	}
	switch {
	case opts.Watch:
		return watch(ctx, opts, collect)
	case opts.Wait > 0:
		return wait(ctx, opts, name, collect)
	}
	r, err := collect()
	if err != nil {
		return err
	}
	return verdict(opts.IO, r)
}

// wait asks until healthy or --wait has passed; Ctrl-C ends it with the interrupt alone.
func wait(ctx context.Context, opts *Options, name string, collect func() (shared.Report, error)) error {
	deadline := time.Now().Add(opts.Wait)
	p := opts.IO.StartProgress("waiting for " + name + " to be healthy")
	for {
		r, err := collect()
		switch {
		case ctx.Err() != nil:
			p.Stop()
			return ctx.Err()
		case err == nil && r.Healthy:
			p.Done("")
			return verdict(opts.IO, r)
		case time.Now().After(deadline):
			p.Fail("not healthy after " + opts.Wait.String())
			if err != nil {
				return err
			}
			return verdict(opts.IO, r)
		}
		p.Update(waitStatus(r, err), 0, 0)
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func waitStatus(r shared.Report, err error) string {
	if err != nil {
		return err.Error()
	}
	if r.Error != "" {
		return r.Error
	}
	return "status " + string(r.Status)
}

// verdict prints the report and turns it into the exit code.
func verdict(io *iostreams.IOStreams, r shared.Report) error {
	if err := shared.PrintHealth(io, r); err != nil {
		return err
	}
	if !r.Healthy {
		return cli.Silent(cli.ExitUnhealthy)
	}
	return nil
}

// watch shows the report every --interval until Ctrl-C: redrawn in place, in colour, on a
// terminal; one report after another otherwise. Ctrl-C is the interrupt, as for every command.
func watch(ctx context.Context, opts *Options, collect func() (shared.Report, error)) error {
	var live *iostreams.Live
	if opts.IO.IsTTY() && !opts.IO.WantsJSON() {
		live = opts.IO.NewLive()
		defer live.Keep() // Ctrl-C leaves the last report to read
	}
	t := time.NewTicker(opts.Interval)
	defer t.Stop()
	for {
		r, err := collect()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return err
		}
		if live != nil {
			live.Set(shared.HealthLines(opts.IO, r)...)
		} else if err := shared.PrintHealth(opts.IO, r); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
