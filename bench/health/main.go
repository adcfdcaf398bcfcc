// Command health-bench serves the health server the way nixify-init embeds it (configured from the
// environment, reading a board whose phase is ready) next to a minimal Go server that returns a fixed
// body (with the same net/http limits), so that bench/health/run.sh and bench/init/load.sh can load
// both with wrk in one run and compare them.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nixify/nixify/internal/init/board"
	"github.com/nixify/nixify/internal/init/healthserver"
	"github.com/nixify/nixify/internal/initenv"
)

func main() {
	fixedAddr := flag.String("fixed", "127.0.0.1:18081", "listen address of the fixed-body server")
	onlyFixed := flag.Bool("only-fixed", false, "serve only the fixed body (the reference next to a real nixify-init)")
	flag.Parse()
	if err := run(*fixedAddr, *onlyFixed); err != nil {
		fmt.Fprintln(os.Stderr, "health-bench:", err)
		os.Exit(1)
	}
}

func run(fixedAddr string, onlyFixed bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	body := []byte(`{"status":"pass"}` + "\n")
	ln, err := net.Listen("tcp", fixedAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", fixedAddr, err)
	}
	// The reference uses net/http's own limits, as the health server does (issue 22's target).
	fixed := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 12 * time.Second,
		IdleTimeout: time.Minute, MaxHeaderBytes: 4 << 10}
	go fixed.Serve(ln)
	defer fixed.Close()
	if onlyFixed {
		<-ctx.Done()
		return nil
	}
	c, err := initenv.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	cfg := healthserver.FromConfig(c)
	b := board.NewBoard(cfg.Services...)
	for _, s := range cfg.Services {
		b.Update(s, func(sv *board.Service) { sv.State = board.Running; sv.Port = cfg.Port(s) })
	}
	b.SetPhase(board.Ready)
	return healthserver.NewServer(cfg, b).Run(ctx)
}
