// Command nixify-init is the image's PID 1: it prepares and supervises PostgreSQL, Redis and
// Garage, serves the health API, and stops everything in order on SIGTERM. It dispatches on
// os.Args by hand to stay small (no CLI framework).
//
//	nixify-init                 run the init (the image's entrypoint)
//	nixify-init healthcheck     exit 0 when the local health server says healthy, else 1
//	nixify-init health-server   run only the health server (development)
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nixify/nixify/internal/init/healthserver"
	"github.com/nixify/nixify/internal/init/service"
)

func main() {
	cmd := ""
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	defer stop()
	var err error
	switch cmd {
	case "":
		err = service.Init(ctx, os.Getenv, os.Stdout)
	case "healthcheck":
		if err := service.Healthcheck(ctx, os.Getenv); err != nil {
			// Docker reads 1 as unhealthy; 2 is reserved there.
			fmt.Fprintln(os.Stderr, "nixify-init:", err)
			os.Exit(1)
		}
	case "health-server":
		err = healthserver.RunStandalone(ctx, os.Getenv, os.Stdout)
	default:
		fmt.Fprintf(os.Stderr, "nixify-init: unknown command %q: use no argument (init), healthcheck or health-server\n", cmd)
		os.Exit(service.ExitRefused)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nixify-init:", err)
		os.Exit(service.ExitCode(err))
	}
}
