package healthserver

import (
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/nixify/nixify/internal/initenv"
	"github.com/nixify/nixify/internal/version"
)

// The known services, by the one list the whole init uses.
const (
	Postgres = initenv.Postgres
	Redis    = initenv.Redis
	Garage   = initenv.Garage
)

var knownServices = initenv.Known

// Config is everything the health server needs: where to listen, how often to check, and where each
// service is. The names of the environment variables come from the original image.
type Config struct {
	Addr     string        // listen address, ":80" from APP_PORT
	Interval time.Duration // time between background checks of a service
	Timeout  time.Duration // limit of one check; shorter than Interval
	Services []string      // enabled services (NIXIFY_SERVICES), in known order
	Name     string        // shown on GET /
	// Container names the container on GET / (NIXIFY_CONTAINER_NAME, else the hostname).
	Container string
	Version   string // shown on GET / and in health bodies

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

// FromConfig derives the health server's configuration from the init's one configuration (see
// package initenv), whose secrets the init has already filled in from /data/secrets.
func FromConfig(c initenv.Config) Config {
	return Config{
		Addr:      ":" + strconv.Itoa(c.AppPort),
		Interval:  c.HealthInterval,
		Timeout:   c.HealthTimeout,
		Services:  c.Services,
		Name:      "nixify",
		Container: containerName(),
		Version:   version.Get().Version,
		Redis:     RedisTarget{Host: c.RedisHost, Port: c.RedisPort, Password: c.RedisPassword},
		Postgres:  PostgresTarget{Host: c.PGHost, Port: c.PGPort, User: c.PGUser, Password: c.PGPassword, Database: c.PGDB},
		Garage: GarageTarget{Host: c.GarageHost, S3Port: c.S3Port, AdminPort: c.AdminPort, Region: c.Region,
			Bucket: c.Bucket, AccessKey: c.AccessKey, SecretKey: c.SecretKey, AdminToken: c.AdminToken},
	}
}

// containerName is what the status page calls the container: NIXIFY_CONTAINER_NAME when whoever
// runs it says, else the hostname (Docker's default is the container's short ID).
func containerName() string {
	if n := os.Getenv("NIXIFY_CONTAINER_NAME"); n != "" {
		return n
	}
	h, _ := os.Hostname()
	return h
}
