package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/nixify/nixify/internal/init/board"
	"github.com/nixify/nixify/internal/init/healthserver"
	"github.com/nixify/nixify/internal/init/supervisor"
	"github.com/nixify/nixify/internal/initenv"
)

// Exit codes of nixify-init (README, "nixify-init exit codes"): Docker shows them, and `nixify
// stop` prints them.
const (
	ExitClean   = 0 // stopped on request after every service was ready; each exited cleanly
	ExitFailed  = 1 // a service failed: its first boot, or too many restarts in a row
	ExitRefused = 2 // refused to start: bad environment, data root in use, APP_PORT busy, ...
	ExitUnclean = 3 // stopped on request, but not cleanly: during first boot, or a service had to be killed or exited non-zero
	// ExitOtherMajor (4, pgmajor.go): /data/postgres was written by another PostgreSQL major
)

// ExitError carries the exit code the init ends with.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode is the process exit code for what Init returned.
func ExitCode(err error) int {
	var ee *ExitError
	switch {
	case err == nil:
		return ExitClean
	case errors.As(err, &ee):
		return ee.Code
	case errors.Is(err, supervisor.ErrUnclean):
		return ExitUnclean
	}
	return ExitFailed
}

func refused(err error) error { return &ExitError{Code: ExitRefused, Err: err} }

// Init is nixify-init's main job. It checks everything it can before touching the disk (the
// environment, programs on PATH, users, the health port), then locks the data root, keeps the
// secrets, starts the health server first so /livez answers during boot, and hands the services
// to the supervisor until ctx ends (SIGTERM). Its last log line says how it ended; ExitCode(err)
// is the matching exit code.
func Init(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := initenv.FromEnv(getenv)
	if err != nil {
		return refused(err)
	}
	log := supervisor.NewLog(stdout)
	defer log.Close()
	var sec Secrets
	services, err := SupervisorServices(cfg, &sec, log.Printf)
	if err != nil {
		return refused(err)
	}
	b := board.NewBoard(initenv.Known...)
	for _, name := range initenv.Known {
		if !cfg.Enabled(name) {
			b.Update(name, func(s *board.Service) { s.State = board.Disabled })
		}
	}
	policy := supervisor.DefaultPolicy()
	policy.MaxRestarts, policy.ReadyTimeout = cfg.MaxRestarts, cfg.ReadyTimeout
	sup, err := supervisor.New(services, b, log, policy)
	if err != nil {
		return refused(err)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.AppPort))
	if err != nil {
		return refused(fmt.Errorf("APP_PORT=%d: the health server cannot listen: %w", cfg.AppPort, unwrapOp(err)))
	}
	defer ln.Close()
	if err := checkDataRoot(cfg); err != nil {
		return refused(err)
	}
	lock, err := lockDataRoot(cfg.DataDir)
	if err != nil {
		return refused(err)
	}
	defer lock.Close()
	if err := checkPostgresMajor(ctx, cfg); err != nil {
		return err
	}
	local, err := listenHealthSocket(cfg)
	if err != nil {
		return refused(err)
	}
	defer local.Close()
	if sec, err = LoadSecrets(cfg); err != nil {
		return err
	}
	log.Redact(sec.values()...)
	return supervise(ctx, cfg, sec, sup, b, log, ln, local)
}

// HealthSocket is where the init serves its health API for the container's own healthcheck
// (`nixify-init healthcheck`): a unix socket in the run directory, root's only. It is a listener of
// its own, never published, so that no number of clients on APP_PORT (slow, flooding or many) can
// delay or refuse the check Docker and orchestrators act on.
func HealthSocket(c initenv.Config) string { return filepath.Join(c.RunDir, "nixify-health.sock") }

// listenHealthSocket creates the run directory if needed (root's, 0700, until PostgreSQL's
// preparation gives it to postgres) and listens on HealthSocket. A socket left by an init that
// died is replaced; one that still answers, or anything that is not a socket, is refused.
func listenHealthSocket(c initenv.Config) (net.Listener, error) {
	if err := os.MkdirAll(c.RunDir, 0o700); err != nil {
		return nil, fmt.Errorf("NIXIFY_RUN_DIR=%s cannot be created: %w", c.RunDir, unwrapPath(err))
	}
	path := HealthSocket(c)
	if st, err := os.Lstat(path); err == nil {
		if st.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("NIXIFY_RUN_DIR=%s holds %s, which is not the init's health socket: remove it or use another run directory", c.RunDir, filepath.Base(path))
		}
		if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
			conn.Close()
			return nil, fmt.Errorf("NIXIFY_RUN_DIR=%s is in use by another nixify-init (its health socket answers): give each container its own run directory", c.RunDir)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove the stale health socket %s: %w", path, unwrapPath(err))
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("NIXIFY_RUN_DIR=%s: the health socket cannot listen: %w", c.RunDir, unwrapOp(err))
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// supervise runs the health server on ln and the services until ctx ends, and logs the last line.
// The health server outlives the services so Docker sees "stopping", not a dead port; if it stops
// on its own the container stops too, rather than run on with a healthcheck that cannot pass.
func supervise(ctx context.Context, cfg initenv.Config, sec Secrets, sup *supervisor.Supervisor, b *board.Board, log *supervisor.Log, ln, local net.Listener) error {
	hcfg := healthserver.FromConfig(sec.Fill(cfg))
	hcfg.Logf = func(format string, args ...any) { log.Printf("health", format, args...) }
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	hctx, stopHealth := context.WithCancel(context.Background())
	healthDone := make(chan error, 1)
	go func() {
		err := healthserver.NewServer(hcfg, b).Serve(hctx, ln, local)
		if err != nil && hctx.Err() == nil {
			log.Printf("init", "health server stopped: %v; stopping the container", err)
			stopRun()
		}
		healthDone <- err
	}()
	log.Printf("init", "starting %v with data in %s", cfg.Services, cfg.DataDir)
	runErr := sup.Run(runCtx)
	stopHealth()
	healthErr := <-healthDone
	if ctx.Err() == nil && healthErr != nil {
		// The health server failing is why the services were stopped: that is what to report.
		runErr = fmt.Errorf("health server: %w", healthErr)
	}
	switch code := ExitCode(runErr); code {
	case ExitClean:
		log.Printf("init", "all services stopped cleanly; exit 0")
	default:
		log.Printf("init", "exit %d: %v", code, runErr)
	}
	return runErr
}

// unwrapOp drops the "listen tcp :80:" prefix of a *net.OpError, which the message already says.
func unwrapOp(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return unwrapSyscall(oe.Err)
	}
	return err
}

func unwrapSyscall(err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err
	}
	return err
}

// Healthcheck asks the init's health server whether the container is healthy, for Docker's
// HEALTHCHECK (the image has no curl), over the init's own socket (HealthSocket) rather than
// APP_PORT, where clients could queue ahead of it. It returns nil on a 2xx answer.
func Healthcheck(ctx context.Context, getenv func(string) string) error {
	cfg, err := initenv.FromEnv(getenv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	path := HealthSocket(cfg)
	var d net.Dialer
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx, "unix", path) },
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://nixify-init/health", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: the init's health socket %s did not answer: %w", path, unwrapOp(errors.Unwrap(err)))
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("unhealthy: %s answered %s", path, resp.Status)
	}
	return nil
}
