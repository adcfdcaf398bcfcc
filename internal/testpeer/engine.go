package testpeer

import (
	"context"
	"os"
	"testing"

	"github.com/nixify/nixify/internal/engine"
)

// Engine connects to the Docker engine the way nixify does (DOCKER_HOST, then the docker context),
// or ends the test when no engine answers. The connection closes when the test ends.
func Engine(t testing.TB) engine.Engine {
	t.Helper()
	ep, err := engine.ResolveEndpoint("", os.Getenv)
	if err != nil {
		Missing(t, "Docker engine", err.Error())
	}
	eng, err := engine.New(ep)
	if err != nil {
		Missing(t, "Docker engine", err.Error())
	}
	if _, err := eng.Ping(context.Background()); err != nil {
		eng.Close()
		Missing(t, "Docker engine", err.Error())
	}
	t.Cleanup(func() { eng.Close() })
	return eng
}
