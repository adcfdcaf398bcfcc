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
	if c := s.cache.Load(); c != nil && c.gen == gen && c.version == version {
		s.count(route, c.code)
		writeBody(w, health.MediaType, c.code, c.body)
		return
	}
	v := s.view()
	code, body := s.render(v, "")
	if v.version == version {
		s.cache.Store(&cachedBody{gen: gen, version: version, code: code, body: body})
	}
	s.count(route, code)
	writeBody(w, health.MediaType, code, body)
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
	in := s.info(v)
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

func writeBody(w http.ResponseWriter, contentType string, code int, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{contentType}
	h["Cache-Control"] = []string{"no-store"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(code)
	w.Write(body)
}

// count records one answered request for /metrics.
func (s *Server) count(route string, code int) {
	key := route + " " + strconv.Itoa(code)
	c, ok := s.requests.Load(key)
	if !ok {
		c, _ = s.requests.LoadOrStore(key, new(atomic.Uint64))
	}
	c.(*atomic.Uint64).Add(1)
}

func sinceSeconds(t time.Time) float64 { return time.Since(t).Seconds() }

func roundTo(f float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(f*p) / p
}
