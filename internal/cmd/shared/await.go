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
	p := io.StartProgress("waiting for " + c.Name + " to be healthy")
	resp, err := container.WaitReady(ctx, eng, id, url, exited, timeout, func(r *health.Response, err error) {
		p.Update(waitStatus(r, err), 0, 0)
	})
	if ctx.Err() != nil {
		p.Stop()
		return ctx.Err()
	}
	res := Started{Container: c.Name, ID: id, Image: loaded, URL: url, Published: Connections(c, eng.Endpoint())}
	report := Report{Container: c.Name, URL: url, State: "running", Services: []ServiceReport{}}
	if now, ierr := eng.ContainerInspect(context.WithoutCancel(ctx), id); ierr == nil {
		report.State, report.Engine = now.State, now.Health
	}
	if resp != nil {
		report = FromResponse(report, resp, 200)
		report.Healthy = err == nil
	}
	res.TookSeconds = time.Since(began).Seconds()
	var re *container.ReadyError
	if errors.As(err, &re) {
		p.Fail("") // the reason follows once, in the error line
		res.Logs, report.Error = re.Logs, re.Reason
		res.Health = report
		if io.WantsJSON() {
			io.WriteJSON(res)
		} else {
			printLogs(io, re.Logs)
			if len(report.Services) > 0 {
				PrintHealth(io, report)
			}
		}
		if re.Exited {
			return cli.Failed(re, "see `nixify logs` for the whole story")
		}
		return &cli.ExitError{Code: cli.ExitUnhealthy, Err: re, Hint: "see `nixify logs`, or wait longer with `nixify health --wait 2m`"}
	}
	if err != nil {
		p.Fail(err.Error())
		return EngineError(err)
	}
	p.Done(url)
	res.Health = report
	if io.WantsJSON() {
		return io.WriteJSON(res)
	}
	st := io.Styles()
	io.Printf("%s %s is healthy at %s\n", st.OK.Render("✓"), c.Name, st.Accent.Render(url))
	if err := PrintHealth(io, report); err != nil {
		return err
	}
	PrintConnections(io, res.Published)
	return nil
}

func waitStatus(r *health.Response, err error) string {
	if err != nil {
		return "health server not answering yet"
	}
	var waiting []string
	for _, s := range r.Services() {
		if !s.Disabled && !s.Status.OK() {
			waiting = append(waiting, s.Name)
		}
	}
	if len(waiting) == 0 {
		return string(r.Status)
	}
	return "waiting for " + strings.Join(waiting, ", ")
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
