package container

import (
	"strings"

	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/engine"
	initconfig "github.com/nixify/nixify/internal/initenv"
)

// Inside is what the container's environment says about its services, parsed by nixify-init's
// own reader (internal/initenv), so that the CLI publishes and connects to the ports the
// services really listen on, and refuses what the init would refuse, with the init's words.
type Inside struct {
	initconfig.Config
	env map[string]string
}

// ReadInside parses a container environment (KEY=VALUE items; later items win, as the engine
// merges the container's own over the image's). On an error (a value the init refuses) it returns
// the defaults beside the error, so that commands looking at an existing container still work.
func ReadInside(env []string) (Inside, error) {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	cfg, err := initconfig.FromEnv(func(k string) string { return m[k] })
	if err != nil {
		cfg, _ = initconfig.FromEnv(func(string) string { return "" })
	}
	return Inside{Config: cfg, env: m}, err
}

// InsideOf is ReadInside for a container that exists: it started with its environment, so what
// the parse cannot read is left at the defaults.
func InsideOf(c engine.Container) Inside { return inside(c.Env) }

func inside(env []string) Inside {
	in, _ := ReadInside(env)
	return in
}

// Env returns a variable of the container's environment ("" when unset).
func (in Inside) Env(key string) string { return in.env[key] }

// Runs reports whether the container runs the service behind a publishable name.
func (in Inside) Runs(publishable string) bool {
	return in.Enabled(initName(publishable))
}

// Port is the container port of a publishable service.
func (in Inside) Port(publishable string) int {
	switch publishable {
	case "postgres":
		return in.PGPort
	case "redis":
		return in.RedisPort
	case "s3":
		return in.S3Port
	}
	return 0
}

// initName is the init's name of a publishable service: S3 is served by Garage.
func initName(publishable string) string {
	if publishable == "s3" {
		return initconfig.Garage
	}
	return publishable
}

// Bindings are the host ports the container publishes: the health server's, then each published
// service's on the same address, its host port defaulting to the service's own.
func Bindings(bind string, healthPort int, publish []config.Publish, in Inside) []engine.PortBinding {
	out := []engine.PortBinding{{HostIP: bind, HostPort: healthPort, ContainerPort: HealthPort}}
	for _, p := range publish {
		cp := in.Port(p.Service)
		hp := p.HostPort
		if hp == 0 {
			hp = cp
		}
		out = append(out, engine.PortBinding{HostIP: bind, HostPort: hp, ContainerPort: cp})
	}
	return out
}

// Published is one service the container publishes on the host.
type Published struct {
	Service  string `json:"service"` // postgres, redis, s3
	HostIP   string `json:"hostIp"`
	HostPort int    `json:"hostPort"`
	// Port is the service's port inside the container.
	Port int `json:"port"`
	// Running is false when the container does not run the service (NIXIFY_SERVICES leaves it out).
	Running bool `json:"running"`
}

// PublishedServices reads which services a container publishes from its port bindings and
// environment.
func PublishedServices(c engine.Container) []Published {
	in := InsideOf(c)
	var out []Published
	for _, svc := range config.Publishable {
		for _, b := range c.Ports {
			if b.ContainerPort == in.Port(svc) && b.ContainerPort != HealthPort {
				out = append(out, Published{Service: svc, HostIP: b.HostIP, HostPort: b.HostPort, Port: b.ContainerPort, Running: in.Runs(svc)})
				break
			}
		}
	}
	return out
}
