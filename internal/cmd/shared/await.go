package shared

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/pkg/health"
)

// Started is what run, up, start and restart report once the container is up.
type Started struct {
	Container   string            `json:"container"`
	ID          string            `json:"id"`
	Image       *container.Loaded `json:"image,omitempty"`
	URL         string            `json:"url"`
	TookSeconds float64           `json:"tookSeconds"`
	Health      Report            `json:"health"`
	Published   []Connection      `json:"published"`
	Logs        []string          `json:"logs,omitempty"`
}

// Await waits until the started container id is healthy, then prints the URL, the health table
// and how to reach each published service (or all of it as JSON). A container that exits or is
// not healthy within timeout is exit 1 or 3 with its last log lines; Ctrl-C is the interrupt alone.
func Await(ctx context.Context, io *iostreams.IOStreams, eng engine.Engine, id string, exited <-chan engine.Exit, timeout time.Duration, began time.Time, loaded *container.Loaded) error {
	c, err := eng.ContainerInspect(ctx, id)
	if err != nil {
		return EngineError(err)
	}
	url := HealthURL(c, eng.Endpoint())
	p := io.StartProgress("waiting for " + c.Name)
	resp, err := container.WaitReady(ctx, eng, id, url, exited, timeout, func(r *health.Response, err error) {
		p.Update(waitStatus(r, err), 0, 0)
	})
	if ctx.Err() != nil {
		p.Stop()
		return ctx.Err()
	}
	res := Started{Container: c.Name, ID: id, Image: loaded, URL: url, Published: Connections(c, eng.Endpoint()),
		TookSeconds: time.Since(began).Seconds(), Health: lastReport(ctx, eng, c, url, resp, err == nil)}
	var re *container.ReadyError
	switch {
	case errors.As(err, &re):
		p.Fail("") // the reason follows once, in the error line
		return notReady(io, res, re)
	case err != nil:
		p.Fail(err.Error())
		return EngineError(err)
	}
	// "✓ waiting for NAME (2.8s)", then the result once: "✓ NAME is healthy at URL".
	p.Done("")
	if io.WantsJSON() {
		return io.WriteJSON(res)
	}
	st := io.Styles()
	io.Printf("%s %s is healthy at %s\n", st.OK.Render("✓"), c.Name, st.Accent.Render(url))
	if err := PrintHealth(io, res.Health); err != nil {
		return err
	}
	PrintConnections(io, res.Published)
	return nil
}

// lastReport is the health report from the wait's last answer and the engine's states now.
func lastReport(ctx context.Context, eng engine.Engine, c engine.Container, url string, resp *health.Response, healthy bool) Report {
	r := Report{Container: c.Name, URL: url, State: "running", Services: []ServiceReport{}}
	if now, err := eng.ContainerInspect(context.WithoutCancel(ctx), c.ID); err == nil {
		r.State, r.Engine = now.State, now.Health
	}
	if resp != nil {
		r = FromResponse(r, resp, 200)
		r.Healthy = healthy
	}
	return r
}

// notReady reports a container that exited (exit 1) or did not become healthy in time (exit 3),
// with its last log lines and the services' last health.
func notReady(io *iostreams.IOStreams, res Started, re *container.ReadyError) error {
	res.Logs, res.Health.Error = re.Logs, re.Reason
	if io.WantsJSON() {
		io.WriteJSON(res)
	} else {
		printLogs(io, re.Logs)
		if len(res.Health.Services) > 0 {
			PrintHealth(io, res.Health)
		}
	}
	if re.Exited {
		return cli.Failed(re, "see `nixify logs` for the whole story")
	}
	return &cli.ExitError{Code: cli.ExitUnhealthy, Err: re, Hint: "see `nixify logs`, or wait longer with `nixify health --wait 2m`"}
}

// waitStatus is what the wait's progress line adds after "waiting for NAME": a separator, then
// what is not ready yet.
func waitStatus(r *health.Response, err error) string {
	if err != nil {
		return "· the health server is not answering yet"
	}
	var waiting []string
	for _, s := range r.Services() {
		if !s.Disabled && !s.Status.OK() {
			waiting = append(waiting, s.Name)
		}
	}
	if len(waiting) == 0 {
		return "· " + string(r.Status)
	}
	return "· not ready yet: " + strings.Join(waiting, ", ")
}

func printLogs(io *iostreams.IOStreams, lines []string) {
	if len(lines) == 0 {
		return
	}
	st := io.Styles()
	io.Errorf("%s\n", st.Faint.Render("last log lines:"))
	for _, l := range lines {
		io.Errorf("  %s\n", l)
	}
}
