// Package health implements `nixify health`: the health of the running container, asked of its
// health server through the published port, with the engine's own healthcheck state beside it.
package health

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/config"
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
	Services []string // only these services' rows, and the verdict on them
}

// NewCmdHealth wires the command; runF replaces the run function in tests.
func NewCmdHealth(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "health [SERVICE...]",
		Short: "Show the health of the running container's services",
		Long: `Ask the container's health server, through the published port, how PostgreSQL, Redis and
Garage are, and show the engine's own healthcheck state beside it.

Services named as arguments (postgres, redis, garage) narrow the table and the verdict to them:
` + "`nixify health postgres`" + ` exits 0 when PostgreSQL passes, whatever Redis says.

Exit codes: 0 healthy (pass or warn); 3 not healthy (a service fails or is disabled, the health
server does not answer, or the container does not run); 4 the Docker engine cannot be reached.
--wait keeps asking until healthy or the duration passes: what CI scripts use after ` + "`nixify run`" + `.
--watch redraws every --interval with the time of the last answer; Ctrl-C leaves the last table.`,
		Example: `  nixify health
  nixify health postgres
  nixify health --wait 60s
  nixify health --watch --interval 5s
  nixify health -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if !slices.Contains(checked, a) {
					return cli.Usagef("unknown service %q: accepted: %s", a, strings.Join(checked, ", "))
				}
			}
			return nil
		},
		ValidArgs: checked,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Services = args
			if opts.Wait < 0 {
				return cli.Usagef("invalid --wait %s: accepted: a duration of 0 or more, e.g. 60s", opts.Wait)
			}
			// Each round asks the engine and the health server: 1ms would keep both busy.
			if opts.Interval < minInterval {
				return cli.Usagef("invalid --interval %s: accepted: %s or more, e.g. 2s", opts.Interval, minInterval)
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
	cfg, eng, err := shared.Connect(ctx, opts.Config, opts.Engine)
	if err != nil {
		return err
	}
	defer eng.Close()
	name := cfg.Container
	collect := func() (shared.Report, error) {
		c, err := eng.ContainerInspect(ctx, name)
		switch {
		case errors.Is(err, engine.ErrNotFound):
			return shared.Report{Container: name}, shared.NoContainer(name, "start it with `nixify run`")
		case err != nil:
			return shared.Report{Container: name}, shared.EngineError(err)
		}
		return only(shared.Collect(ctx, c, eng.Endpoint()), opts.Services), nil
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

// minInterval is the shortest --interval: a person reads the table, a script uses --wait.
const minInterval = 250 * time.Millisecond

// checked are the services the health server checks, which health takes as arguments.
var checked = []string{"postgres", "redis", "garage"}

// only narrows the report to the named services (all when none is): the verdict is theirs, and a
// disabled one is not healthy, since the user asked about it.
func only(r shared.Report, services []string) shared.Report {
	if len(services) == 0 || r.Error != "" {
		return r
	}
	kept := []shared.ServiceReport{}
	healthy := r.HTTPStatus != 0
	for _, s := range r.Services {
		if slices.Contains(services, s.Name) {
			kept = append(kept, s)
			healthy = healthy && !s.Disabled && s.Status.OK()
		}
	}
	r.Services, r.Healthy = kept, healthy && len(kept) > 0
	return r
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

// waitStatus is what the progress line adds after "waiting for NAME to be healthy": a separator,
// then what is not ready yet (run's wait says it the same way).
func waitStatus(r shared.Report, err error) string {
	if err != nil {
		return "· " + err.Error()
	}
	if r.Error != "" {
		return "· " + r.Error
	}
	var waiting []string
	for _, s := range r.Services {
		if !s.Disabled && !s.Status.OK() {
			waiting = append(waiting, s.Name)
		}
	}
	if len(waiting) > 0 {
		return "· not ready yet: " + strings.Join(waiting, ", ")
	}
	return "· status " + string(r.Status)
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

// watch shows the report every --interval until Ctrl-C: on a terminal the table is redrawn in
// place once per answer, under the time of that answer, and stays on the screen when Ctrl-C ends
// the watch; otherwise one report follows another. Ctrl-C is the interrupt, as for every command.
func watch(ctx context.Context, opts *Options, collect func() (shared.Report, error)) error {
	redraw := opts.IO.IsTTY() && !opts.IO.WantsJSON()
	// On a terminal the table is a live block: redrawn in place, clipped to the width and erased
	// by the rows it takes after a resize, so a terminal made narrower keeps no old rows.
	var live *iostreams.Live
	if redraw {
		live = opts.IO.NewLiveOut()
		defer live.Keep()
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
		if redraw {
			live.Set(append(shared.HealthLines(opts.IO, r), opts.IO.Styles().Faint.Render(
				fmt.Sprintf("updated %s, every %s; Ctrl-C stops", time.Now().Format("15:04:05"), opts.Interval)))...)
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
