package healthserver

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/nixify/nixify/internal/init/board"
	"github.com/nixify/nixify/pkg/health"
)

// checks renders one service as health+json checks under the key "name:responseTime".
func checks(sv serviceView) []health.Check {
	out := observed(sv)
	for i := range out {
		out[i].State, out[i].Since, out[i].Restarts = sv.State, sv.Since, sv.Restarts
	}
	return out
}

func observed(sv serviceView) []health.Check {
	if sv.Disabled || !sv.running() || sv.Result == nil { // disabled, or fail
		return []health.Check{{ComponentID: sv.Name, Status: sv.status(), Output: sv.output()}}
	}
	out := make([]health.Check, 0, len(sv.Result.Observations))
	for _, o := range sv.Result.Observations {
		secs := o.Latency.Seconds()
		out = append(out, health.Check{
			ComponentID: cmp.Or(o.Component, sv.Name), ComponentType: "datastore",
			ObservedValue: &secs, ObservedUnit: "s",
			Status: o.Status, Time: sv.Result.Finished, Output: o.Output,
		})
	}
	return out
}

// running reports whether the supervisor says the service runs (always, for a service checked from
// outside): only then does a probe's result count.
func (sv serviceView) running() bool {
	return sv.State == string(board.Running) || sv.State == stateExternal
}

// status is a service's verdict: disabled (which counts for nothing); not running (booting,
// restarting, failed) or not yet checked: fail.
func (sv serviceView) status() health.Status {
	switch {
	case sv.Disabled:
		return health.Disabled
	case !sv.running() || sv.Result == nil:
		return health.Fail
	}
	return sv.Result.Status
}

func (sv serviceView) output() string {
	switch {
	case sv.Disabled:
		return "not in NIXIFY_SERVICES"
	case !sv.running() && sv.Detail != "":
		return "not ready: the init reports it " + sv.State + ": " + sv.Detail
	case !sv.running():
		return "not running: the init reports it " + sv.State
	case sv.Result == nil:
		return "not checked yet"
	}
	return sv.Result.Output()
}

// overall is the verdict of /health and /readyz: every enabled service passes or warns, and the init
// is ready. It returns a one-line reason when it fails.
func (v view) overall() (health.Status, string) {
	st := health.Pass
	var failing []string
	for _, sv := range v.Services {
		s := sv.status()
		st = st.Worse(s)
		if s == health.Fail {
			failing = append(failing, sv.Name+": "+sv.output())
		}
	}
	if v.Phase != board.Ready {
		return health.Fail, fmt.Sprintf("init is %s, not ready", v.Phase)
	}
	return st, strings.Join(failing, "; ")
}

// response builds the body of /health (service == "") or /health/{service}.
func (s *Server) response(v view, service string) *health.Response {
	r := &health.Response{
		Version: s.cfg.Version, ServiceID: s.cfg.Name,
		Description: "health of the services in the " + s.cfg.Name + " image",
		Checks:      map[string][]health.Check{},
	}
	if service == "" {
		r.Status, r.Output = v.overall()
	} else {
		r.Status = health.Pass
	}
	for _, sv := range v.Services {
		if service != "" && sv.Name != service {
			continue
		}
		r.Checks[sv.Name+":responseTime"] = checks(sv)
		if service != "" {
			r.Status = sv.status()
			if r.Status == health.Fail {
				r.Output = sv.output()
			}
		}
	}
	return r
}

// info builds the body of GET / for programs, for a request addressed to host.
func (s *Server) info(v view, host string) *health.Info {
	st, _ := v.overall()
	in := &health.Info{
		Name: s.cfg.Name, Container: s.cfg.Container, Host: host, Rendered: time.Now().UTC(),
		Version: s.cfg.Version, Started: s.started.UTC(),
		Uptime: roundTo(sinceSeconds(s.started), 3), Phase: string(v.Phase), Status: st,
	}
	for _, sv := range v.Services {
		si := health.ServiceInfo{Name: sv.Name, State: sv.State, Since: sv.Since, Restarts: sv.Restarts,
			Port: sv.Port, Status: sv.status(), Output: sv.output(), LastRestartReason: sv.RestartReason}
		if !sv.LastRestart.IsZero() {
			si.LastRestart = sv.LastRestart.UTC()
		}
		if sv.State == string(board.Running) && !sv.Since.IsZero() {
			si.Uptime = roundTo(sinceSeconds(sv.Since), 3)
		}
		if sv.Result != nil {
			si.Latency = roundTo(sv.Result.Latency().Seconds(), 6)
			si.CheckedAt = sv.Result.Finished.UTC()
		}
		in.Services = append(in.Services, si)
	}
	return in
}
