package testpeer

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// GarageHealth is the state a GarageAdmin test double reports.
type GarageHealth int

const (
	GarageHealthy     GarageHealth = iota // 200, "Garage is fully operational"
	GarageDegraded                        // 200, some storage nodes unavailable
	GarageUnavailable                     // 503, no quorum (also a fresh node without a layout)
)

// GarageAdmin is a TEST DOUBLE, not Garage: no Garage binary can be had on these machines. It serves
// only the admin API's unauthenticated GET /health as Garage documents it (doc/api in Garage's
// repository, and the handler it describes): 200 with "Garage is fully operational" when healthy,
// 200 with "Garage is operational but some storage nodes are unavailable" when degraded, and 503 with
// "Quorum is not available for some/all partitions, reads and writes will fail" without quorum, all
// text/plain. Every other path answers 404 here, where Garage would ask for the admin token.
type GarageAdmin struct {
	URL   string // http://127.0.0.1:PORT
	Addr  string // 127.0.0.1:PORT
	state atomic.Int32
	hits  atomic.Int64
}

// StartGarageAdmin starts the test double in the healthy state; it stops when the test ends.
func StartGarageAdmin(t testing.TB) *GarageAdmin {
	t.Helper()
	g := &GarageAdmin{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		g.hits.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		var msg string
		switch GarageHealth(g.state.Load()) {
		case GarageHealthy:
			msg = "Garage is fully operational"
		case GarageDegraded:
			msg = "Garage is operational but some storage nodes are unavailable"
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
			msg = "Quorum is not available for some/all partitions, reads and writes will fail"
		}
		w.Write([]byte(msg + "\nConsult the full health check API endpoint at /v2/GetClusterHealth for more details\n"))
	}))
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	g.Addr = strings.TrimPrefix(srv.URL, "http://")
	return g
}

// Set changes what GET /health reports.
func (g *GarageAdmin) Set(h GarageHealth) { g.state.Store(int32(h)) }

// Hits is how many times GET /health was asked.
func (g *GarageAdmin) Hits() int64 { return g.hits.Load() }
