package healthserver

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/nixify/nixify/pkg/health"
)

// handleMetrics writes the Prometheus text format (version 0.0.4) by hand: a dozen lines do not
// justify linking a metrics library into nixify-init.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	v := s.view()
	var b bytes.Buffer
	help := func(name, typ, text string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, typ)
	}

	help("nixify_health_up", "gauge", "Whether the service's latest check passed or warned (1) or failed (0); disabled services are left out.")
	for _, sv := range v.Services {
		if !sv.Disabled {
			fmt.Fprintf(&b, "nixify_health_up{service=%q} %d\n", sv.Name, boolInt(sv.status().OK()))
		}
	}
	help("nixify_health_check_status", "gauge", "Latest status of each checked component: 1 for the status it has, 0 for the others.")
	for _, sv := range v.Services {
		for _, c := range checks(sv) {
			if c.Status == health.Disabled {
				continue
			}
			for _, st := range []health.Status{health.Pass, health.Warn, health.Fail} {
				fmt.Fprintf(&b, "nixify_health_check_status{service=%q,component=%q,status=%q} %d\n", sv.Name, c.ComponentID, st, boolInt(c.Status == st))
			}
		}
	}
	help("nixify_health_check_latency_seconds", "gauge", "Response time of each component in its latest check.")
	for _, sv := range v.Services {
		for _, c := range checks(sv) {
			if c.ObservedValue == nil { // not measured: disabled, not running or not checked yet
				continue
			}
			fmt.Fprintf(&b, "nixify_health_check_latency_seconds{service=%q,component=%q} %g\n", sv.Name, c.ComponentID, *c.ObservedValue)
		}
	}
	s.writeProbeMetrics(&b, help)
	s.writeRequestMetrics(&b, help)
	s.writeServiceMetrics(&b, v, help)
	help("nixify_health_ready", "gauge", "Whether /health answers 200.")
	st, _ := v.overall()
	fmt.Fprintf(&b, "nixify_health_ready %d\n", boolInt(st.OK()))
	help("nixify_health_uptime_seconds", "gauge", "Seconds since the health server started.")
	fmt.Fprintf(&b, "nixify_health_uptime_seconds %g\n", roundTo(sinceSeconds(s.started), 3))

	s.count("/metrics", http.StatusOK)
	writeBody(w, "text/plain; version=0.0.4; charset=utf-8", http.StatusOK, b.Bytes())
}

// writeProbeMetrics writes the counters of the probes: how many, with which result, how long.
func (s *Server) writeProbeMetrics(b *bytes.Buffer, help func(name, typ, text string)) {
	help("nixify_health_probes_total", "counter", "Finished probes of each service by result.")
	for _, name := range s.cfg.Services {
		p := s.probers[name]
		for i, st := range []health.Status{health.Pass, health.Warn, health.Fail} {
			fmt.Fprintf(b, "nixify_health_probes_total{service=%q,status=%q} %d\n", name, st, p.probes[i].Load())
		}
	}
	counter := func(name, text string, get func(*prober) uint64) {
		help(name, "counter", text)
		for _, n := range s.cfg.Services {
			fmt.Fprintf(b, "%s{service=%q} %d\n", name, n, get(s.probers[n]))
		}
	}
	counter("nixify_health_probes_started_total", "Probes started (background ticks and fresh requests).",
		func(p *prober) uint64 { return p.started.Load() })
	counter("nixify_health_probes_skipped_total", "Background ticks skipped because the previous probe was still running.",
		func(p *prober) uint64 { return p.skipped.Load() })
	counter("nixify_health_probes_shared_total", "Fresh requests that joined a probe already in flight instead of starting one.",
		func(p *prober) uint64 { return p.shared.Load() })
	help("nixify_health_probe_duration_seconds_total", "counter", "Time spent in probes of each service.")
	for _, n := range s.cfg.Services {
		fmt.Fprintf(b, "nixify_health_probe_duration_seconds_total{service=%q} %g\n", n, float64(s.probers[n].duration.Load())/1e9)
	}
}

// writeRequestMetrics writes the count of answered requests by route and status code.
func (s *Server) writeRequestMetrics(b *bytes.Buffer, help func(name, typ, text string)) {
	help("nixify_health_requests_total", "counter", "HTTP requests answered, by route and status code.")
	s.requestsMu.RLock()
	keys := slices.SortedFunc(maps.Keys(s.requests), func(a, b requestKey) int {
		return cmp.Or(strings.Compare(a.route, b.route), cmp.Compare(a.code, b.code))
	})
	for _, k := range keys {
		fmt.Fprintf(b, "nixify_health_requests_total{route=%q,code=\"%d\"} %d\n", k.route, k.code, s.requests[k].Load())
	}
	s.requestsMu.RUnlock()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// writeServiceMetrics writes what the supervisor knows of each service: its state, since when, and
// its restarts, so a dashboard (or `nixify status`) sees a service that keeps crashing.
func (s *Server) writeServiceMetrics(b *bytes.Buffer, v view, help func(name, typ, text string)) {
	help("nixify_service_restarts_total", "counter", "Restarts of each service since the container started.")
	for _, sv := range v.Services {
		fmt.Fprintf(b, "nixify_service_restarts_total{service=%q} %d\n", sv.Name, sv.Restarts)
	}
	help("nixify_service_state", "gauge", "The supervisor's state of each service: 1 for the state it is in.")
	for _, sv := range v.Services {
		fmt.Fprintf(b, "nixify_service_state{service=%q,state=%q} 1\n", sv.Name, sv.State)
	}
	help("nixify_service_state_since_seconds", "gauge", "When each service entered its state, in seconds since the Unix epoch.")
	for _, sv := range v.Services {
		if !sv.Since.IsZero() {
			fmt.Fprintf(b, "nixify_service_state_since_seconds{service=%q} %.3f\n", sv.Name, float64(sv.Since.UnixMilli())/1e3)
		}
	}
}
