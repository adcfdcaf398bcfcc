package healthserver

import (
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nixify/nixify/pkg/health"
)

// Handler returns the HTTP routes. Serve uses it; tests may mount it elsewhere.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.handleRoot)
	mux.HandleFunc("GET /health", s.handleHealth)
	mux.HandleFunc("GET /health/{service}", s.handleService)
	mux.HandleFunc("GET /readyz", s.handleHealth)
	mux.HandleFunc("GET /livez", s.handleLive)
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	return mux
}

var liveBody = []byte(`{"status":"pass"}` + "\n")

func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) {
	s.count("/livez", http.StatusOK)
	writeBody(w, health.MediaType, http.StatusOK, liveBody)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	route := r.URL.Path
	if wantsFresh(r) {
		v := s.view()
		s.refresh(r.Context(), &v, "")
		code, body := s.render(v, "")
		s.count(route, code)
		writeBody(w, health.MediaType, code, body)
		return
	}
	// Under load every request finds the body of the latest results and board already rendered:
	// it is rendered once per new result or board change. The generation is read before the view,
	// so a result that lands in between only costs one extra render.
	gen := s.gen.Load()
	version := s.boardVersion()
	c := s.cache.Load()
	if c == nil || c.gen != gen || c.version != version {
		v := s.view()
		code, body := s.render(v, "")
		c = &cachedBody{gen: gen, version: v.version, code: code, body: body, length: []string{strconv.Itoa(len(body))}}
		if v.version == version {
			s.cache.Store(c)
		}
	}
	s.count(route, c.code)
	h := w.Header()
	h["Content-Type"], h["Cache-Control"], h["Content-Length"] = healthType, noStore, c.length
	w.WriteHeader(c.code)
	w.Write(c.body)
}

func (s *Server) handleService(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("service")
	if !slices.Contains(knownServices, name) {
		s.count("/health/{service}", http.StatusNotFound)
		body, _ := json.Marshal(health.Response{Status: health.Fail,
			Output: "unknown service " + strconv.Quote(name) + ": want one of " + strings.Join(knownServices, ", ")})
		writeBody(w, health.MediaType, http.StatusNotFound, append(body, '\n'))
		return
	}
	v := s.view()
	if wantsFresh(r) {
		s.refresh(r.Context(), &v, name)
	}
	code, body := s.render(v, name)
	s.count("/health/"+name, code)
	writeBody(w, health.MediaType, code, body)
}

func (s *Server) render(v view, service string) (int, []byte) {
	resp := s.response(v, service)
	body, err := json.Marshal(resp)
	if err != nil {
		// Only finite floats and strings go in; this cannot happen, but a fail body still says so.
		body = []byte(`{"status":"fail","output":"cannot encode health body"}`)
		resp.Status = health.Fail
	}
	code := http.StatusOK
	if !resp.Status.OK() {
		code = http.StatusServiceUnavailable
	}
	return code, append(body, '\n')
}

func (s *Server) handleRoot(w http.ResponseWriter, r *http.Request) {
	v := s.view()
	in := s.info(v, r.Host)
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		s.count("/", http.StatusOK)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		renderPage(w, in)
		return
	}
	body, _ := json.Marshal(in)
	s.count("/", http.StatusOK)
	writeBody(w, "application/json", http.StatusOK, append(body, '\n'))
}

func wantsFresh(r *http.Request) bool {
	if !r.URL.Query().Has("fresh") {
		return false
	}
	v := r.URL.Query().Get("fresh")
	return v == "" || v == "1" || v == "true"
}

// Header values the handlers share; net/http only reads them.
var (
	healthType = []string{health.MediaType}
	noStore    = []string{"no-store"}
)

func writeBody(w http.ResponseWriter, contentType string, code int, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{contentType}
	h["Cache-Control"] = noStore
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(code)
	w.Write(body)
}

// requestKey is a route and status code, counted for /metrics.
type requestKey struct {
	route string
	code  int
}

// count records one answered request for /metrics; a typed map keeps the hot path free of
// allocations.
func (s *Server) count(route string, code int) {
	k := requestKey{route, code}
	s.requestsMu.RLock()
	c := s.requests[k]
	s.requestsMu.RUnlock()
	if c == nil {
		s.requestsMu.Lock()
		if c = s.requests[k]; c == nil {
			c = new(atomic.Uint64)
			s.requests[k] = c
		}
		s.requestsMu.Unlock()
	}
	c.Add(1)
}

func sinceSeconds(t time.Time) float64 { return time.Since(t).Seconds() }

func roundTo(f float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(f*p) / p
}
