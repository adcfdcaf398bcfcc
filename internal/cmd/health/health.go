// Package health implements `nixify health`: the health of the running container, asked of its
// health server through the published port, with the engine's own healthcheck state beside it.
package health

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/pkg/health"
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
	cmd.Flags().String("container", "", "container name (default from the configuration)")
	f.BindFlag("container", cmd.Flags().Lookup("container"))
	return cmd
}

// Report is the health of the container: what its health server says and what the engine says.
type Report struct {
	Container  string          `json:"container"`
	URL        string          `json:"url"`
	State      string          `json:"state"`                  // the engine's container state
	Engine     string          `json:"engineHealth,omitempty"` // the engine's healthcheck state
	Healthy    bool            `json:"healthy"`
	Status     health.Status   `json:"status,omitempty"`
	HTTPStatus int             `json:"httpStatus,omitempty"`
	Error      string          `json:"error,omitempty"` // why the health server gave no answer
	Services   []ServiceReport `json:"services"`
}

// ServiceReport is one service's row.
type ServiceReport struct {
	Name      string        `json:"name"`
	Status    health.Status `json:"status"`
	LatencyMS float64       `json:"latencyMs"`
	Message   string        `json:"message,omitempty"`
	Disabled  bool          `json:"disabled,omitempty"`
}

// Collect asks the engine and the health server once.
func Collect(ctx context.Context, eng engine.Engine, name string) (Report, error) {
	c, err := eng.ContainerInspect(ctx, name)
	if err != nil {
		return Report{Container: name}, err
	}
	r := Report{Container: c.Name, State: c.State, Engine: c.Health}
	port := 0
	bind := ""
	for _, p := range c.Ports {
		if p.ContainerPort == container.HealthPort {
			port, bind = p.HostPort, p.HostIP
		}
	}
	if !c.Running {
		r.Error = fmt.Sprintf("the container is %s (exit code %d)", c.State, c.ExitCode)
		return r, nil
	}
	if port == 0 {
		r.Error = fmt.Sprintf("the container does not publish port %d", container.HealthPort)
		return r, nil
	}
	r.URL = container.HealthURL(bind, port, eng.Endpoint())
	return r.fill(ctx), nil
}

func (r Report) fill(ctx context.Context) Report {
	resp, code, err := container.Probe(ctx, r.URL)
	if err != nil {
		r.Error = "the health server does not answer: " + err.Error()
		return r
	}
	return FromResponse(r, resp, code)
}

// FromResponse fills the report from a health server's answer.
func FromResponse(r Report, resp *health.Response, code int) Report {
	r.HTTPStatus, r.Status = code, resp.Status
	r.Healthy = code == http.StatusOK && resp.Status.OK()
	r.Services = nil
	for _, s := range resp.Services() {
		r.Services = append(r.Services, ServiceReport{Name: s.Name, Status: s.Status, LatencyMS: float64(s.Latency.Microseconds()) / 1000, Message: s.Output, Disabled: s.Disabled})
	}
	return r
}

// Print writes the report: a table of services, then the overall verdict with the engine's state.
func Print(io *iostreams.IOStreams, r Report) error {
	if io.WantsJSON() {
		return io.WriteJSON(r)
	}
	st := io.Styles()
	if len(r.Services) > 0 {
		t := io.NewTable("service", "status", "latency", "message")
		for _, s := range r.Services {
			status, latency := st.Status(string(s.Status)), fmt.Sprintf("%.1fms", s.LatencyMS)
			if s.Disabled {
				status, latency = st.Status("disabled"), "-"
			}
			t.Row(s.Name, status, latency, s.Message)
		}
		t.Render()
	}
	io.Printf("%s\n", summary(r, st))
	return nil
}

func summary(r Report, st iostreams.Styles) string {
	engineState := r.Engine
	if engineState == "" {
		engineState = "no healthcheck"
	}
	verdict := st.OK.Render("healthy")
	if !r.Healthy {
		verdict = st.Fail.Render("not healthy")
	}
	line := fmt.Sprintf("%s: %s (container %s, engine healthcheck: %s)", r.Container, verdict, r.State, st.Status(engineState))
	if r.Error != "" {
		line += ": " + r.Error
	}
	return line
}

// Lines renders the report as aligned lines, for a live view.
func Lines(r Report, st iostreams.Styles) []string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	if len(r.Services) > 0 {
		fmt.Fprintln(tw, "SERVICE\tSTATUS\tLATENCY\tMESSAGE")
		for _, s := range r.Services {
			status, latency := string(s.Status), fmt.Sprintf("%.1fms", s.LatencyMS)
			if s.Disabled {
				status, latency = "disabled", "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, status, latency, s.Message)
		}
	}
	tw.Flush()
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if lines[0] == "" {
		lines = lines[:0]
	}
	return append(lines, summary(r, st))
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
	collect := func() (Report, error) {
		r, err := Collect(ctx, eng, name)
		if errors.Is(err, engine.ErrNotFound) {
			return r, &cli.ExitError{Code: cli.ExitUnhealthy, Err: fmt.Errorf("no container %q", name), Hint: "start it with `nixify run`"}
		}
		return r, err
	}
	switch {
	case opts.Watch:
		return watch(ctx, opts, collect)
	case opts.Wait > 0:
		deadline := time.Now().Add(opts.Wait)
		var p *iostreams.Progress
		if !opts.IO.WantsJSON() {
			p = opts.IO.StartProgress("waiting for " + name + " to be healthy")
		}
		for {
			r, err := collect()
			if (err == nil && r.Healthy) || time.Now().After(deadline) || ctx.Err() != nil {
				if p != nil {
					if err == nil && r.Healthy {
						p.Done("")
					} else {
						p.Fail("not healthy after " + opts.Wait.String())
					}
				}
				if err != nil {
					return err
				}
				return verdict(opts.IO, r)
			}
			if p != nil {
				p.Update(waitStatus(r, err), 0, 0)
			}
			select {
			case <-ctx.Done():
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	r, err := collect()
	if err != nil {
		return err
	}
	return verdict(opts.IO, r)
}

func waitStatus(r Report, err error) string {
	if err != nil {
		return err.Error()
	}
	if r.Error != "" {
		return r.Error
	}
	return "status " + string(r.Status)
}

// verdict prints the report and turns it into the exit code.
func verdict(io *iostreams.IOStreams, r Report) error {
	if err := Print(io, r); err != nil {
		return err
	}
	if !r.Healthy {
		return cli.Silent(cli.ExitUnhealthy)
	}
	return nil
}

func watch(ctx context.Context, opts *Options, collect func() (Report, error)) error {
	var live *iostreams.Live
	if opts.IO.IsTTY() && !opts.IO.WantsJSON() {
		live = opts.IO.NewLive()
		defer live.Stop()
	}
	t := time.NewTicker(opts.Interval)
	defer t.Stop()
	var last Report
	for {
		r, err := collect()
		if err != nil {
			return err
		}
		last = r
		if live != nil {
			live.Set(Lines(r, opts.IO.Styles())...)
		} else if err := Print(opts.IO, r); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			if !last.Healthy {
				return cli.Silent(cli.ExitUnhealthy)
			}
			return nil
		case <-t.C:
		}
	}
}
