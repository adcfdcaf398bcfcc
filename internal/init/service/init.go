package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
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
	if sec, err = LoadSecrets(cfg); err != nil {
		return err
	}
	log.Redact(sec.values()...)
	return supervise(ctx, cfg, sec, sup, b, log, ln)
}

// supervise runs the health server on ln and the services until ctx ends, and logs the last line.
// The health server outlives the services so Docker sees "stopping", not a dead port; if it stops
// on its own the container stops too, rather than run on with a healthcheck that cannot pass.
func supervise(ctx context.Context, cfg initenv.Config, sec Secrets, sup *supervisor.Supervisor, b *board.Board, log *supervisor.Log, ln net.Listener) error {
	hcfg := healthserver.FromConfig(sec.Fill(cfg))
	hcfg.Logf = func(format string, args ...any) { log.Printf("health", format, args...) }
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	hctx, stopHealth := context.WithCancel(context.Background())
	healthDone := make(chan error, 1)
	go func() {
		err := healthserver.NewServer(hcfg, b).Serve(hctx, ln)
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

// Healthcheck asks the local health server whether the container is healthy, for Docker's
// HEALTHCHECK (the image has no curl). It returns nil on a 2xx answer.
func Healthcheck(ctx context.Context, getenv func(string) string) error {
	cfg, err := initenv.FromEnv(getenv)
	if err != nil {
		return err
	}
	port := fmt.Sprint(cfg.AppPort)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	url := "http://127.0.0.1:" + port + "/health"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("APP_PORT=%q does not make a valid address: %w", port, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %s did not answer: %w", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("unhealthy: %s answered %s", url, resp.Status)
	}
	return nil
}
