// Package health is the health server that replaced the original image's Flask app: it checks Redis,
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
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nixify/nixify/internal/init/board"
)

// freshWithin is how old a result may be and still answer a request that asks for a fresh one
// (?fresh=1). It bounds the probes that such requests cause to about one per second per service.
const freshWithin = time.Second

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

	requests sync.Map // "route code" -> *atomic.Uint64, for /metrics
	once     sync.Once
}

type cachedBody struct {
	gen   uint64
	phase board.Phase
	mask  uint64 // which services are disabled
	code  int
	body  []byte
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
	s := &Server{cfg: cfg, src: src, started: time.Now(), probers: map[string]*prober{}, base: context.Background()}
	for _, name := range cfg.Services {
		p := &prober{service: name, check: checkerFor(name, cfg), timeout: cfg.Timeout}
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

// Serve runs the background checks and serves HTTP on ln until ctx ends. In-flight requests get five
// seconds to finish; probes are cancelled.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.base = ctx
	s.once.Do(func() {
		for _, name := range s.cfg.Services {
			go s.schedule(ctx, s.probers[name])
		}
	})
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve health on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutCtx, shutCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer shutCancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve health on %s: %w", ln.Addr(), err)
	}
	return nil
}

// schedule probes one service now and then once per interval, skipping services the board disables.
func (s *Server) schedule(ctx context.Context, p *prober) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		if !s.disabledOnBoard(p.service) {
			p.tick(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) disabledOnBoard(service string) bool {
	if s.src == nil {
		return false
	}
	svc, ok := s.src.Snapshot().Service(service)
	return ok && svc.State == board.Disabled
}

// RunStandalone runs the health server alone, configured from the environment, checking services
// wherever REDIS_HOST, PG_HOST and GARAGE_HOST point (as `python app.py` did during development). It
// prints where it listens and every change of a service's status to stdout.
func RunStandalone(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
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

// serviceView is one service as a response shows it: the board's view joined with the latest result.
type serviceView struct {
	Name     string
	State    string
	Port     int
	Disabled bool
	Result   *Result // nil: not checked yet, or disabled
}

// boardKey is what a cached body depends on besides the results: the phase and the disabled services.
func (s *Server) boardKey() (board.Phase, uint64) {
	var mask uint64
	phase := board.Ready
	var snap board.Snapshot
	if s.src != nil {
		snap = s.src.Snapshot()
		phase = snap.Phase
	}
	for i, name := range knownServices {
		disabled := !s.cfg.Enabled(name)
		if s.src != nil {
			if b, ok := snap.Service(name); ok && b.State == board.Disabled {
				disabled = true
			}
		}
		if disabled {
			mask |= 1 << i
		}
	}
	return phase, mask
}

// view is a consistent picture of the phase and every known service.
type view struct {
	Phase    board.Phase
	Services []serviceView
	mask     uint64
}

func (s *Server) view() view {
	v := view{Phase: board.Ready}
	var snap board.Snapshot
	if s.src != nil {
		snap = s.src.Snapshot()
		v.Phase = snap.Phase
	}
	for i, name := range knownServices {
		sv := serviceView{Name: name, State: "external", Port: s.cfg.Port(name)}
		if s.src != nil {
			sv.State = "unknown"
			if b, ok := snap.Service(name); ok {
				sv.State = string(b.State)
				if b.Port > 0 {
					sv.Port = b.Port
				}
				sv.Disabled = b.State == board.Disabled
			}
		}
		if !s.cfg.Enabled(name) {
			sv.Disabled, sv.State = true, string(board.Disabled)
		}
		if sv.Disabled {
			v.mask |= 1 << i
		} else if p := s.probers[name]; p != nil {
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
		if sv.Disabled || p == nil || (only != "" && only != sv.Name) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sv.Result = p.fresh(ctx, s.base, freshWithin)
		}()
	}
	wg.Wait()
}
