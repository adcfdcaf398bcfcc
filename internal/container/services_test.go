package container

import (
	"testing"

	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/engine"
)

// TestPortsFollowTheEnvironment: a service moved inside the container (PG_PORT in the image or in
// --env) is published from where it listens, on the host port asked for or its own.
func TestPortsFollowTheEnvironment(t *testing.T) {
	s := Spec{Bind: "127.0.0.1", Port: 8080, ImageEnv: []string{"PG_PORT=5433", "REDIS_PORT=6380"}, Env: []string{"REDIS_PORT=7000"},
		Publish: []config.Publish{{Service: "postgres"}, {Service: "redis", HostPort: 16379}}}
	got := s.Ports()
	want := []engine.PortBinding{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80},
		{HostIP: "127.0.0.1", HostPort: 5433, ContainerPort: 5433}, {HostIP: "127.0.0.1", HostPort: 16379, ContainerPort: 7000}}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("binding %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	c := engine.Container{Env: s.environment(), Ports: got}
	pub := PublishedServices(c)
	if len(pub) != 2 || pub[0].Service != "postgres" || pub[1].HostPort != 16379 || !pub[1].Running {
		t.Fatalf("published: %+v", pub)
	}
	if _, err := ReadInside([]string{"NIXIFY_SERVICES=redis,mysql"}); err == nil {
		t.Fatal("an unknown service was accepted")
	}
}
