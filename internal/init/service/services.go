package service

import (
	"fmt"
	"os/exec"

	"github.com/nixify/nixify/internal/init/supervisor"
	"github.com/nixify/nixify/internal/initenv"
)

// program finds a service's program on PATH; a missing one is reported before anything starts.
func program(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found on PATH: the image must provide it (or drop its service from NIXIFY_SERVICES)", name)
	}
	return p, nil
}

// SupervisorServices returns the enabled services, in start order, as the supervisor runs them.
// Their hooks read sec when they run, after LoadSecrets has filled it. logf reports the steps of
// first-boot bootstraps under the service's name.
func SupervisorServices(c initenv.Config, sec *Secrets, logf func(source, format string, args ...any)) ([]supervisor.Service, error) {
	var out []supervisor.Service
	for _, name := range c.Services {
		var svc supervisor.Service
		var err error
		switch name {
		case initenv.Postgres:
			svc, err = postgres(c, sec)
		case initenv.Redis:
			svc, err = redis(c, sec)
		case initenv.Garage:
			svc, err = garageService(c, sec, func(f string, a ...any) { logf("garage", f, a...) })
		}
		if err != nil {
			return nil, err
		}
		out = append(out, svc)
	}
	return out, nil
}
