package container

import (
	"slices"
	"strconv"
	"strings"

	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/engine"
)

// Inside is what the container's environment says about its services, read the way nixify-init
// reads it (the same variables and defaults), so that the CLI publishes and connects to the ports
// the services really listen on.
type Inside struct {
	Enabled   []string // NIXIFY_SERVICES: postgres, redis, garage
	PGPort    int
	PGUser    string
	PGDB      string
	RedisPort int
	S3Port    int
	Region    string
	Bucket    string
	env       map[string]string
}

// Defaults of the image's environment (README "The image's environment").
const (
	defaultPGPort    = 5432
	defaultRedisPort = 6379
	defaultS3Port    = 3900
)

// ReadInside interprets a container environment (KEY=VALUE items; later items win, as the engine
// merges the container's own over the image's).
func ReadInside(env []string) Inside {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	get := func(k, def string) string {
		if v := strings.TrimSpace(m[k]); v != "" {
			return v
		}
		return def
	}
	port := func(k string, def int) int {
		if n, err := strconv.Atoi(get(k, "")); err == nil && n > 0 && n < 65536 {
			return n
		}
		return def
	}
	in := Inside{
		PGPort: port("PG_PORT", defaultPGPort), PGUser: get("POSTGRES_USER", "postgres"), PGDB: get("POSTGRES_DB", "postgres"),
		RedisPort: port("REDIS_PORT", defaultRedisPort), S3Port: port("GARAGE_S3_PORT", defaultS3Port),
		Region: get("GARAGE_REGION", "garage"), Bucket: get("GARAGE_BUCKET", "nixify"), env: m,
	}
	for _, s := range strings.Split(get("NIXIFY_SERVICES", "postgres,redis,garage"), ",") {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			in.Enabled = append(in.Enabled, s)
		}
	}
	return in
}

// Env returns a variable of the container's environment ("" when unset).
func (in Inside) Env(key string) string { return in.env[key] }

// Runs reports whether the container runs the service behind a publishable name.
func (in Inside) Runs(publishable string) bool {
	return slices.Contains(in.Enabled, initName(publishable))
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
		return "garage"
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
	in := ReadInside(c.Env)
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
