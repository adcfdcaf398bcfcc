package shared

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/pkg/health"
)

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

// Disabled is the status of a service the container does not run (NIXIFY_SERVICES leaves it out).
const Disabled health.Status = "disabled"

// ServiceReport is one service's row.
type ServiceReport struct {
	Name           string        `json:"name"`
	Status         health.Status `json:"status"`
	LatencySeconds float64       `json:"latencySeconds"`
	Message        string        `json:"message,omitempty"`
	Disabled       bool          `json:"disabled,omitempty"`
	// What the init's supervisor says of the service's process: its state (running, booting,
	// restarting, failed, ...), since when, and how often it was restarted since the container
	// started.
	State    string    `json:"state,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	Restarts int       `json:"restarts"`
}

// HealthURL is where the container's health server is published, "" when it is not.
func HealthURL(c engine.Container, ep engine.Endpoint) string {
	for _, p := range c.Ports {
		if p.ContainerPort == container.HealthPort {
			return container.HealthURL(p.HostIP, p.HostPort, ep)
		}
	}
	return ""
}

// Collect asks the health server of the inspected container c once.
func Collect(ctx context.Context, c engine.Container, ep engine.Endpoint) Report {
	r := Report{Container: c.Name, State: c.State, Engine: c.Health, Services: []ServiceReport{}}
	if !c.Running {
		r.Error = fmt.Sprintf("%s, exit code %d", c.State, c.ExitCode)
		return r
	}
	r.URL = HealthURL(c, ep)
	if r.URL == "" {
		r.Error = fmt.Sprintf("the container does not publish port %d", container.HealthPort)
		return r
	}
	resp, code, err := container.Probe(ctx, r.URL)
	if err != nil {
		r.Error = "the health server does not answer: " + ProbeError(err)
		return r
	}
	return FromResponse(r, resp, code)
}

// FromResponse fills the report from a health server's answer.
func FromResponse(r Report, resp *health.Response, code int) Report {
	r.HTTPStatus, r.Status = code, resp.Status
	r.Healthy = code == http.StatusOK && resp.Status.OK()
	r.Services = []ServiceReport{}
	for _, s := range resp.Services() {
		sr := ServiceReport{Name: s.Name, Status: s.Status, LatencySeconds: s.Latency.Seconds(), Message: s.Output, Disabled: s.Disabled,
			State: s.State, Since: s.Since, Restarts: s.Restarts}
		if s.Disabled {
			sr.Status = Disabled // as the text says it, not the health server's neutral "pass"
		}
		r.Services = append(r.Services, sr)
	}
	return r
}

// PrintHealth writes the report: a table of services, then the overall verdict with the engine's
// state.
func PrintHealth(io *iostreams.IOStreams, r Report) error {
	if io.WantsJSON() {
		return io.WriteJSON(r)
	}
	if len(r.Services) > 0 {
		healthTable(io, r).Render()
	}
	io.Printf("%s\n", io.WrapOut("", Verdict(r, io.Styles())))
	return nil
}

// HealthLines renders the report as the same table PrintHealth writes, as lines for a live view,
// styled the same way.
func HealthLines(io *iostreams.IOStreams, r Report) []string {
	var lines []string
	if len(r.Services) > 0 {
		lines = healthTable(io, r).Lines()
	}
	return append(lines, strings.Split(io.WrapOut("", Verdict(r, io.Styles())), "\n")...)
}

func healthTable(io *iostreams.IOStreams, r Report) *iostreams.Table {
	st := io.Styles()
	t := io.NewTable("service", "status", "latency", "message")
	for _, s := range r.Services {
		status, latency := st.Status(string(s.Status)), Millis(s.LatencySeconds)
		if s.Disabled {
			status, latency = st.Status("disabled"), "-"
		}
		t.Row(s.Name, status, latency, s.Message)
	}
	return t
}

// engineSays words the engine's own healthcheck beside nixify's verdict: "starting" is the
// engine's probe not having run yet, not the container starting.
func engineSays(state string, st iostreams.Styles) string {
	switch state {
	case "":
		return "no engine healthcheck"
	case "starting":
		return "engine check not run yet"
	}
	return "engine healthcheck: " + st.Status(state)
}

// Millis shows a latency in milliseconds with one decimal, the unit health checks are read in.
func Millis(seconds float64) string { return fmt.Sprintf("%.1fms", seconds*1000) }

// ProbeError says in a few words why the health server gave no answer: the reason at the bottom
// of Go's "GET url: Get "url": EOF" chain.
func ProbeError(err error) string {
	var ue *url.Error
	for errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		strings.Contains(err.Error(), "server closed idle connection"): // net/http's name for the same, unexported
		return "it closed the connection without an answer"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "the connection was reset"
	case errors.As(err, &ne) && ne.Timeout():
		return "no answer in time"
	}
	return iostreams.FirstLine(err.Error())
}

// Verdict is the report's last line: healthy or not, the container's and the engine's states, and
// why when the health server gave no answer.
func Verdict(r Report, st iostreams.Styles) string {
	if r.State != "" && r.State != "running" {
		// Not "not healthy (container exited, engine healthcheck: unhealthy): the container is
		// exited": one thing to say, once.
		line := fmt.Sprintf("%s: %s", r.Container, st.Fail.Render("not running"))
		if r.Error != "" {
			line += " (" + r.Error + ")"
		}
		return line
	}
	verdict := st.OK.Render("healthy")
	if !r.Healthy {
		verdict = st.Fail.Render("not healthy")
	}
	line := fmt.Sprintf("%s: %s (container %s, %s)", r.Container, verdict, r.State, engineSays(r.Engine, st))
	if r.Error != "" {
		line += ": " + r.Error
	}
	return line
}
