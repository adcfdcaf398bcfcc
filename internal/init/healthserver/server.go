// Package healthserver is the health server that replaced the original image's Flask app: it checks Redis,
// PostgreSQL and Garage in the background and answers GET /, /health, /health/{service}, /livez,
// /readyz and /metrics from the latest results, so that no request rate ever reaches the services.
// It runs inside nixify-init, which passes its board of service states, or alone, checking services
// elsewhere.
package healthserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nixify/nixify/internal/init/board"
	"github.com/nixify/nixify/internal/initenv"
)

// freshGap is the interval divided by this: a request asking for a fresh result (?fresh=1) gets
// the result of a probe started less than interval/freshDivisor ago, so such requests start at
// most one probe of a service per interval/5 (one a second at the default 5 s).
const freshDivisor = 5

// timeouts bound what one client can make the health server hold: they are net/http's own
// (Serve), and tests shorten them. There is no cap on connections: a slow client costs a goroutine
// and a few KiB until its timeout closes it, and a cap would shut out the probes it was meant to
// protect (issue 21: 300 trickling clients starved /health behind a cap of 256).
type timeouts struct {
	header time.Duration // ReadHeaderTimeout: from a request's first byte to the end of its headers
	read   time.Duration // ReadTimeout: from a request's first byte to the end of its body
	write  time.Duration // WriteTimeout, less the check timeout: from the end of the headers to the last byte of the answer
	idle   time.Duration // IdleTimeout: between requests on a kept-alive connection
}

var defaultTimeouts = timeouts{header: 5 * time.Second, read: 10 * time.Second, write: 10 * time.Second, idle: time.Minute}

// maxHeaderBytes caps a request's headers (net/http reads up to 4 KiB beyond it before it answers
// 431), so that a header flood cannot grow PID 1's memory.
const maxHeaderBytes = 4 << 10

// Server answers health requests from the latest background checks.
type Server struct {
	cfg     Config
	src     board.Source
	started time.Time
	probers map[string]*prober

	// base bounds every probe; Serve sets it before any request or tick can use it.
	base context.Context

	gen   atomic.Uint64 // bumped whenever a result arrives, to invalidate cached bodies
	cache atomic.Pointer[cachedBody]

	limits timeouts

	requestsMu sync.RWMutex
	requests   map[requestKey]*atomic.Uint64 // for /metrics
	once       sync.Once
}

// cachedBody is a /health answer rendered once and served as bytes, its header values included:
// under load a request costs two atomic loads and a write.
type cachedBody struct {
	gen     uint64 // of the results
	version uint64 // of the board
	code    int
	body    []byte
	length  []string // Content-Length, shared by every response that serves the body
}

// NewServer returns a server for cfg. src is the init's board; nil means standalone: every enabled
// service is checked and the phase counts as ready.
func NewServer(cfg Config, src board.Source) *Server {
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Second
	}
	if cfg.Timeout <= 0 || cfg.Timeout >= cfg.Interval {
		cfg.Timeout = min(2*time.Second, cfg.Interval/2)
	}
	if cfg.Name == "" {
		cfg.Name = "nixify"
	}
	s := &Server{cfg: cfg, src: src, started: time.Now(), probers: map[string]*prober{}, base: context.Background(),
		requests: map[requestKey]*atomic.Uint64{}, limits: defaultTimeouts}
	for _, name := range cfg.Services {
		p := &prober{service: name, check: checkerFor(name, cfg), timeout: cfg.Timeout, kick: make(chan struct{}, 1)}
		p.onDone = func(prev, cur *Result) {
			s.gen.Add(1)
			s.logChange(prev, cur)
		}
		s.probers[name] = p
	}
	return s
}

// Run listens on the configured address and serves until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (APP_PORT): %w", s.cfg.Addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve runs the background checks and serves HTTP on every listener until ctx ends: the public
// port, and in the init a unix socket of its own for the container's healthcheck, each with its own
// http.Server so that nothing queued on one (connections, accepts) delays the other. In-flight
// requests get five seconds to finish; probes are cancelled.
func (s *Server) Serve(ctx context.Context, listeners ...net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.base = ctx
	s.once.Do(func() {
		for _, name := range s.cfg.Services {
			go s.schedule(ctx, s.probers[name])
		}
		go s.watchBoard(ctx)
	})
	errc := make(chan error, len(listeners))
	var servers []*http.Server
	for _, ln := range listeners {
		srv := s.httpServer(ctx)
		servers = append(servers, srv)
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve health on %s: %w", ln.Addr(), err)
				return
			}
			errc <- nil
		}()
	}
	pending := len(servers)
	var failed error
	select {
	case failed = <-errc: // a listener failed: the others stop too
		pending--
	case <-ctx.Done():
	}
	shutCtx, shutCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer shutCancel()
	for _, srv := range servers {
		if err := srv.Shutdown(shutCtx); err != nil {
			srv.Close()
		}
	}
	for ; pending > 0; pending-- {
		if err := <-errc; err != nil && failed == nil {
			failed = err
		}
	}
	return failed
}

// httpServer is one listener's server. It runs inside PID 1, so what a client can make it hold is
// bounded by net/http's own limits: headers of a few KiB, and a deadline on every phase of a
// connection (a fresh request waits for at most one probe, hence the check timeout in the write
// budget).
func (s *Server) httpServer(ctx context.Context) *http.Server {
	lim := s.limits
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: lim.header,
		ReadTimeout:       lim.read,
		WriteTimeout:      lim.write + s.cfg.Timeout,
		IdleTimeout:       lim.idle,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          log.New(io.Discard, "", 0), // a client's bad request is not the init's news
	}
}

// schedule probes one service now and then again nextDelay after each probe started (whatever
// started it), skipping services the board disables. A kick (the supervisor changed the
// service's state) probes at once and restarts the backoff.
func (s *Server) schedule(ctx context.Context, p *prober) {
	delay, backoff := s.cfg.Interval, time.Duration(0)
	probe := true
	for {
		wait := s.cfg.Interval // a service not running is looked at again at a kick or an interval
		if s.probeable(p.service) {
			if probe {
				select {
				case <-p.tick(ctx).done:
				case <-ctx.Done():
					return
				}
				delay, backoff = nextDelay(p.latest.Load(), backoff, s.cfg.Interval)
			}
			wait = max(delay-p.sinceStart(), 0)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-p.kick:
			backoff, probe = 0, true
		case <-timer.C:
			// A fresh request's probe may have started meanwhile: it counts.
			probe = p.sinceStart() >= delay
		}
		timer.Stop()
	}
}

// watchBoard kicks the schedule of every service whose state or process the supervisor changes,
// so that /health turns 200 within a probe of the last service becoming ready rather than at the
// next interval.
func (s *Server) watchBoard(ctx context.Context) {
	if s.src == nil {
		return
	}
	seen := map[string]board.Service{}
	for {
		changed := s.src.Changed()
		for _, sv := range s.src.Snapshot().Services {
			prev, ok := seen[sv.Name]
			// A service already running at the first look may have been skipped by its schedule.
			changed := ok && (prev.State != sv.State || prev.PID != sv.PID) || !ok && sv.State == board.Running
			if p := s.probers[sv.Name]; p != nil && changed {
				select {
				case p.kick <- struct{}{}:
				default: // a kick is already pending
				}
			}
			seen[sv.Name] = sv
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// probeable reports whether a service is worth probing: always when the server runs alone; inside
// the init only while the supervisor says it runs. Probing a service that is booting or
// restarting tells nothing the board does not, and fills PostgreSQL's log with failed logins.
func (s *Server) probeable(service string) bool {
	if s.src == nil {
		return true
	}
	svc, ok := s.src.Snapshot().Service(service)
	return ok && svc.State == board.Running
}

// RunStandalone runs the health server alone, configured from the environment, checking services
// wherever REDIS_HOST, PG_HOST and GARAGE_HOST point (as `python app.py` did during development). It
// prints where it listens and every change of a service's status to stdout.
func RunStandalone(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	c, err := initenv.FromEnv(getenv)
	if err != nil {
		return err
	}
	cfg := FromConfig(c)
	var mu sync.Mutex
	cfg.Logf = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stdout, format+"\n", args...)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (APP_PORT): %w", cfg.Addr, err)
	}
	cfg.Logf("health server on %s checking %v every %s (timeout %s)", ln.Addr(), cfg.Services, cfg.Interval, cfg.Timeout)
	return NewServer(cfg, nil).Serve(ctx, ln)
}

func (s *Server) logChange(prev, cur *Result) {
	if s.cfg.Logf == nil || (prev != nil && prev.Status == cur.Status && prev.Output() == cur.Output()) {
		return
	}
	if out := cur.Output(); out != "" {
		s.cfg.Logf("health: %s %s: %s", cur.Service, cur.Status, out)
	} else {
		s.cfg.Logf("health: %s %s", cur.Service, cur.Status)
	}
}

// stateExternal is the state of a service the server checks from outside, running alone.
const stateExternal = "external"

// serviceView is one service as a response shows it: the board's view joined with the latest result.
type serviceView struct {
	Name     string
	State    string
	Since    time.Time // when the supervisor put it in State; zero when running alone
	Restarts int
	Port     int
	Disabled bool
	Detail   string // what the service reports doing while not ready ("loading dataset 42%")
	// LastRestart and RestartReason: when and why the supervisor last restarted it.
	LastRestart   time.Time
	RestartReason string
	Result        *Result // nil: not checked yet, or disabled
}

// boardVersion is the board's change count: a cached body depends on it besides the results.
func (s *Server) boardVersion() uint64 {
	if s.src == nil {
		return 0
	}
	return s.src.Version()
}

// view is a consistent picture of the phase and every known service.
type view struct {
	Phase    board.Phase
	Services []serviceView
	version  uint64 // of the board snapshot it was made from
}

func (s *Server) view() view {
	v := view{Phase: board.Ready}
	var snap board.Snapshot
	if s.src != nil {
		snap = s.src.Snapshot()
		v.Phase, v.version = snap.Phase, snap.Version
	}
	for _, name := range knownServices {
		sv := serviceView{Name: name, State: stateExternal, Port: s.cfg.Port(name)}
		if s.src != nil {
			sv.State = "unknown"
			if b, ok := snap.Service(name); ok {
				sv.State, sv.Since, sv.Restarts, sv.Detail = string(b.State), b.Since.UTC(), b.Restarts, b.Detail
				sv.LastRestart, sv.RestartReason = b.LastRestart, b.RestartReason
				if b.Port > 0 {
					sv.Port = b.Port
				}
				sv.Disabled = b.State == board.Disabled
			}
		}
		if !s.cfg.Enabled(name) {
			sv.Disabled, sv.State = true, string(board.Disabled)
		}
		if p := s.probers[name]; p != nil && !sv.Disabled {
			sv.Result = p.latest.Load()
		}
		v.Services = append(v.Services, sv)
	}
	return v
}

// refresh replaces the results in v with fresh ones, probing each enabled service at most once for
// all concurrent callers.
func (s *Server) refresh(ctx context.Context, v *view, only string) {
	var wg sync.WaitGroup
	for i := range v.Services {
		sv := &v.Services[i]
		p := s.probers[sv.Name]
		if sv.Disabled || p == nil || (only != "" && only != sv.Name) || !sv.running() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sv.Result = p.fresh(ctx, s.base, s.cfg.Interval/freshDivisor)
		}()
	}
	wg.Wait()
}
