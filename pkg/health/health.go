// Package health holds the response types of nixify's health server and a small client for them, so
// that `nixify health` and any other Go program read the same definitions the server writes.
//
// Bodies follow the "health check response format for HTTP APIs" draft (media type
// application/health+json): an overall status of pass, warn or fail, and checks keyed
// "component:measurement" (for example "postgres:responseTime"), each with an observed value and unit,
// a status, the time it was measured and, when it did not pass, a one-line output saying why.
package health

import (
	"sort"
	"strings"
	"time"
)

// MediaType is the content type of every health body.
const MediaType = "application/health+json"

// Status is the verdict of a check or of the whole server.
type Status string

const (
	Pass Status = "pass" // healthy
	Warn Status = "warn" // healthy, with a concern worth reading (for example a degraded Garage)
	Fail Status = "fail" // unhealthy or not ready
	// Disabled is a service switched off (not in NIXIFY_SERVICES): not checked, and it counts for
	// nothing in the verdict. Only a service or its checks have it, never a whole response; it is
	// an extension to the draft's three, so that JSON and text say the same thing.
	Disabled Status = "disabled"
)

// OK reports whether the status does not make the container unhealthy: pass or warn (as HTTP 2xx
// does), or disabled.
func (s Status) OK() bool { return s == Pass || s == Warn || s == Disabled }

// Worse returns the more severe of two statuses; disabled is below pass (a running service's
// status wins over a switched-off one's).
func (s Status) Worse(o Status) Status {
	rank := map[Status]int{Disabled: -1, Pass: 0, Warn: 1, Fail: 2}
	if rank[o] > rank[s] {
		return o
	}
	return s
}

// Check is one measurement of one component, as the draft defines it.
type Check struct {
	ComponentID   string   `json:"componentId,omitempty"`
	ComponentType string   `json:"componentType,omitempty"`
	ObservedValue *float64 `json:"observedValue,omitempty"`
	ObservedUnit  string   `json:"observedUnit,omitempty"`
	Status        Status   `json:"status"`
	// Time is when the measurement was taken; zero for a check not run yet or not run at all.
	Time   time.Time `json:"time,omitzero"`
	Output string    `json:"output,omitempty"`

	// What the init's supervisor knows of the service's process (extensions too). State is
	// running, booting, restarting, failed, waiting, exited or disabled ("external" when the
	// health server runs alone); Since is when it entered that state; Restarts counts every
	// restart since the container started (0 when the health server runs alone).
	State    string    `json:"state,omitempty"`
	Since    time.Time `json:"since,omitzero"`
	Restarts int       `json:"restarts"`
}

// Response is the body of GET /health, /health/{service} and /readyz.
type Response struct {
	Status      Status             `json:"status"`
	Version     string             `json:"version,omitempty"`
	ServiceID   string             `json:"serviceId,omitempty"`
	Description string             `json:"description,omitempty"`
	Output      string             `json:"output,omitempty"`
	Checks      map[string][]Check `json:"checks,omitempty"`
}

// Service is one service's row in a Response, flattened for tables.
type Service struct {
	Name     string
	Status   Status
	Latency  time.Duration // slowest component's response time; 0 when not measured
	Output   string        // why it did not pass, components joined with "; "
	Checked  time.Time     // when the oldest component was measured
	Disabled bool          // Status is Disabled: switched off, not checked
	State    string        // the supervisor's state of the service (see Check.State)
	Since    time.Time     // when it entered State
	Restarts int           // restarts since the container started
}

// Services flattens the checks into one row per service, sorted by name. A service measured through
// several components (Garage: admin and S3) gets their worst status and slowest latency.
func (r *Response) Services() []Service {
	byName := map[string]*Service{}
	for key, checks := range r.Checks {
		name, _, _ := strings.Cut(key, ":")
		svc := byName[name]
		if svc == nil {
			svc = &Service{Name: name, Status: Disabled}
			byName[name] = svc
		}
		for _, c := range checks {
			svc.Status = svc.Status.Worse(c.Status)
			svc.State, svc.Since, svc.Restarts = c.State, c.Since, c.Restarts
			if c.ObservedValue != nil && c.ObservedUnit == "s" {
				svc.Latency = max(svc.Latency, time.Duration(*c.ObservedValue*float64(time.Second)))
			}
			if c.Output != "" {
				out := c.Output
				if c.ComponentID != "" && len(checks) > 1 {
					out = c.ComponentID + ": " + out
				}
				if svc.Output != "" {
					svc.Output += "; "
				}
				svc.Output += out
			}
			if !c.Time.IsZero() && (svc.Checked.IsZero() || c.Time.Before(svc.Checked)) {
				svc.Checked = c.Time
			}
		}
	}
	out := make([]Service, 0, len(byName))
	for _, s := range byName {
		s.Disabled = s.Status == Disabled
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Info is the body of GET / for programs (a browser gets a status page instead).
type Info struct {
	Name string `json:"name"`
	// Container and Host name where the page comes from: the container's name
	// (NIXIFY_CONTAINER_NAME when set, else its hostname, which Docker sets to the container's
	// short ID) and the host:port the request was addressed to.
	Container string        `json:"container,omitempty"`
	Host      string        `json:"host,omitempty"`
	Rendered  time.Time     `json:"rendered"`
	Version   string        `json:"version"`
	Started   time.Time     `json:"started"`
	Uptime    float64       `json:"uptimeSeconds"`
	Phase     string        `json:"phase"`
	Status    Status        `json:"status"`
	Services  []ServiceInfo `json:"services"`
}

// ServiceInfo is one service on GET /: what the init knows of it and its latest check.
type ServiceInfo struct {
	Name string `json:"name"`
	// State is the init's view (running, booting, disabled, ...) or "external" when the health
	// server runs alone and only checks the service from outside.
	State string `json:"state"`
	// Since is when the service entered State; Uptime is the seconds since then while it runs.
	Since    time.Time `json:"since,omitzero"`
	Uptime   float64   `json:"uptimeSeconds,omitempty"`
	Restarts int       `json:"restarts"` // restarts since the container started
	// Port is where the service listens inside the container; what the host publishes, if
	// anything, only the engine knows.
	Port   int    `json:"port,omitempty"`
	Status Status `json:"status"` // pass, warn, fail or disabled
	// LastRestart is when the init last restarted the service, and LastRestartReason why (its
	// exit and last words, secrets hidden); zero and empty when it never did.
	LastRestart       time.Time `json:"lastRestart,omitzero"`
	LastRestartReason string    `json:"lastRestartReason,omitempty"`
	CheckedAt         time.Time `json:"checkedAt,omitzero"` // when the latest check finished
	Latency           float64   `json:"latencySeconds,omitempty"`
	Output            string    `json:"output,omitempty"`
}
