package healthserver

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nixify/nixify/internal/version"
)

// Known services, in the order they are shown.
const (
	Postgres = "postgres"
	Redis    = "redis"
	Garage   = "garage"
)

var knownServices = []string{Postgres, Redis, Garage}

// Config is everything the health server needs: where to listen, how often to check, and where each
// service is. The names of the environment variables come from the original image.
type Config struct {
	Addr     string        // listen address, ":80" from APP_PORT
	Interval time.Duration // time between background checks of a service
	Timeout  time.Duration // limit of one check; shorter than Interval
	Services []string      // enabled services (NIXIFY_SERVICES), in known order
	Name     string        // shown on GET /
	Version  string        // shown on GET / and in health bodies

	Redis    RedisTarget
	Postgres PostgresTarget
	Garage   GarageTarget

	// Logf, when set, receives one line whenever a service's status changes. Lines never hold secrets.
	Logf func(format string, args ...any)
}

// RedisTarget is where Redis listens and how to authenticate.
type RedisTarget struct {
	Host     string
	Port     int
	Password string // AUTH is sent only when set
}

// PostgresTarget is where PostgreSQL listens and how to log in.
type PostgresTarget struct {
	Host     string
	Port     int
	User     string
	Password string
	Database string
}

// GarageTarget is where Garage's S3 and admin APIs listen and the bucket and key to check with.
type GarageTarget struct {
	Host      string
	S3Port    int
	AdminPort int
	Region    string
	Bucket    string
	AccessKey string
	SecretKey string
	// AdminToken is kept for callers that need the token-protected admin API; GET /health needs none.
	AdminToken string
}

// Enabled reports whether service is in the enabled list.
func (c Config) Enabled(service string) bool { return slices.Contains(c.Services, service) }

// Port returns the port a service is checked on (Garage: its S3 port).
func (c Config) Port(service string) int {
	switch service {
	case Redis:
		return c.Redis.Port
	case Postgres:
		return c.Postgres.Port
	case Garage:
		return c.Garage.S3Port
	}
	return 0
}

// ConfigFromEnv reads the configuration from environment variables through getenv (os.Getenv in
// production, a map in tests). A wrong value is an error naming the variable, the value and what is
// accepted; secrets are never part of an error.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	var errs []string
	port := func(name, def string) int {
		v := env(name, def)
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			errs = append(errs, fmt.Sprintf("%s=%q is not a port: want a whole number from 1 to 65535", name, v))
		}
		return n
	}
	duration := func(name, def string) time.Duration {
		v := env(name, def)
		d, err := time.ParseDuration(v)
		if err != nil {
			// A bare number is taken as seconds, as people write it in compose files.
			if n, nerr := strconv.ParseFloat(v, 64); nerr == nil {
				d, err = time.Duration(n*float64(time.Second)), nil
			}
		}
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Sprintf("%s=%q is not a positive duration: want for example 5s, 500ms or 2", name, v))
		}
		return d
	}
	host := func(name, def string) string {
		v := env(name, def)
		if strings.ContainsAny(v, " /:@?#") && net.ParseIP(v) == nil {
			errs = append(errs, fmt.Sprintf("%s=%q is not a host name: want a name or IP address without port or scheme", name, v))
		}
		return v
	}

	cfg := Config{
		Name:    "nixify",
		Version: version.Get().Version,
		Redis: RedisTarget{
			Host: host("REDIS_HOST", "127.0.0.1"), Port: port("REDIS_PORT", "6379"),
			Password: getenv("REDIS_PASSWORD"),
		},
		Postgres: PostgresTarget{
			Host: host("PG_HOST", "127.0.0.1"), Port: port("PG_PORT", "5432"),
			User: env("POSTGRES_USER", "postgres"), Database: env("POSTGRES_DB", "postgres"),
			Password: getenv("POSTGRES_PASSWORD"),
		},
		Garage: GarageTarget{
			Host: host("GARAGE_HOST", "127.0.0.1"), S3Port: port("GARAGE_S3_PORT", "3900"),
			AdminPort: port("GARAGE_ADMIN_PORT", "3903"), Region: env("GARAGE_REGION", "garage"),
			Bucket: env("GARAGE_BUCKET", "nixify"), AccessKey: env("GARAGE_ACCESS_KEY", ""),
			SecretKey: getenv("GARAGE_SECRET_KEY"), AdminToken: getenv("GARAGE_ADMIN_TOKEN"),
		},
	}
	cfg.Addr = ":" + strconv.Itoa(port("APP_PORT", "80"))
	cfg.Interval = duration("NIXIFY_HEALTH_INTERVAL", "5s")
	cfg.Timeout = duration("NIXIFY_HEALTH_TIMEOUT", "2s")
	if cfg.Interval > 0 && cfg.Timeout > 0 && cfg.Timeout >= cfg.Interval {
		errs = append(errs, fmt.Sprintf("NIXIFY_HEALTH_TIMEOUT=%s is not shorter than NIXIFY_HEALTH_INTERVAL=%s: a check must end before the next begins",
			cfg.Timeout, cfg.Interval))
	}
	services, err := parseServices(env("NIXIFY_SERVICES", strings.Join(knownServices, ",")))
	if err != nil {
		errs = append(errs, err.Error())
	}
	cfg.Services = services
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return cfg, nil
}

// parseServices reads NIXIFY_SERVICES: a comma-separated subset of the known services. "none" or an
// explicit empty list is not accepted: a health server that checks nothing would always say pass.
func parseServices(v string) ([]string, error) {
	seen := map[string]bool{}
	for _, s := range strings.Split(v, ",") {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "" {
			continue
		}
		if !slices.Contains(knownServices, s) {
			return nil, fmt.Errorf("NIXIFY_SERVICES=%q names unknown service %q: want a comma-separated list of %s",
				v, s, strings.Join(knownServices, ", "))
		}
		seen[s] = true
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("NIXIFY_SERVICES=%q names no service: want a comma-separated list of %s", v, strings.Join(knownServices, ", "))
	}
	var out []string
	for _, s := range knownServices {
		if seen[s] {
			out = append(out, s)
		}
	}
	return out, nil
}
