package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/nixify/nixify/internal/init/board"
	"github.com/nixify/nixify/internal/init/healthserver"
	"github.com/nixify/nixify/internal/init/supervisor"
)

// Init is nixify-init's main job. It checks everything it can before creating anything (the
// environment, programs on PATH, users, the data root), then keeps the secrets, starts the health
// server first so /livez answers during boot, and hands the services to the supervisor until ctx
// ends (SIGTERM). It returns nil after a clean stop.
func Init(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := ConfigFromEnv(getenv)
	if err != nil {
		return err
	}
	log := supervisor.NewLog(stdout)
	defer log.Close()

	var sec Secrets
	services, err := Build(cfg, &sec, log.Printf)
	if err != nil {
		return err
	}
	b := board.NewBoard(Known...)
	for _, name := range Known {
		if !cfg.Enabled(name) {
			b.Update(name, func(s *board.Service) { s.State = board.Disabled })
		}
	}
	policy := supervisor.DefaultPolicy()
	policy.MaxRestarts, policy.ReadyTimeout = cfg.MaxRestarts, cfg.ReadyTimeout
	sup, err := supervisor.New(services, b, log, policy)
	if err != nil {
		return err
	}
	if err := cfg.CheckDataRoot(); err != nil {
		return err
	}
	if sec, err = LoadSecrets(cfg); err != nil {
		return err
	}

	hcfg, err := healthserver.ConfigFromEnv(sec.Getenv(getenv))
	if err != nil {
		return fmt.Errorf("health server: %w", err)
	}
	hcfg.Logf = func(format string, args ...any) { log.Printf("health", format, args...) }
	hctx, stopHealth := context.WithCancel(context.Background())
	healthDone := make(chan error, 1)
	go func() {
		err := healthserver.NewServer(hcfg, b).Run(hctx)
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
			// Said at once: the services keep running, but Docker's HEALTHCHECK will fail.
			log.Printf("init", "health server stopped: %v", err)
		}
		healthDone <- err
	}()

	log.Printf("init", "starting %v with data in %s", cfg.Services, cfg.DataDir)
	runErr := sup.Run(ctx)
	// The health server outlives the services so Docker sees "stopping", not a dead port.
	stopHealth()
	<-healthDone
	if runErr != nil {
		log.Printf("init", "exiting with failure: %v", runErr)
		return runErr
	}
	log.Printf("init", "all services stopped cleanly")
	return nil
}

// Healthcheck asks the local health server whether the container is healthy, for Docker's
// HEALTHCHECK (the image has no curl). It returns nil on a 2xx answer.
func Healthcheck(ctx context.Context, getenv func(string) string) error {
	port := getenv("APP_PORT")
	if port == "" {
		port = "80"
	}
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
