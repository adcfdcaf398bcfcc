// Package initenv is the grammar of nixify-init's environment, read once and checked as a whole.
// The init's services and its health server are configured from the one Config it returns, and
// the CLI (internal/container) parses a container's environment with it too, so a variable cannot
// mean one thing to the supervisor, another to the health check and a third to `nixify run`. It
// imports nothing of either side. Parsing writes nothing: the init touches the disk only after
// every value is valid.
package initenv

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The services the init knows, by the names NIXIFY_SERVICES, /health and the log use.
const (
	Postgres = "postgres"
	Redis    = "redis"
	Garage   = "garage"
)

// Known lists every service in start order (and the order they are shown in).
var Known = []string{Postgres, Redis, Garage}

// Config is the environment, checked: ports are ports, names are what the services accept, and
// every value that goes into a generated configuration file is safe to write there.
type Config struct {
	DataDir  string   // NIXIFY_DATA_DIR
	RunDir   string   // NIXIFY_RUN_DIR: PostgreSQL's socket directory
	Bind     string   // NIXIFY_LISTEN: address services listen on (NIXIFY_BIND is the CLI's host address)
	Services []string // enabled, in start order

	PGHost    string // where the health check reaches PostgreSQL (PG_HOST)
	PGPort    int
	PGUser    string
	PGDB      string
	RedisHost string
	RedisPort int

	GarageHost string
	S3Port     int
	AdminPort  int
	RPCPort    int
	Bucket     string
	Region     string
	Capacity   int64 // bytes

	AppPort        int           // the health server
	HealthInterval time.Duration // between background checks of a passing service
	HealthTimeout  time.Duration // limit of one check

	MaxRestarts  int
	ReadyTimeout time.Duration

	// Secrets: given in the environment, or (in the init) filled in from /data/secrets. Empty
	// means generate or reuse the stored one.
	PGPassword, RedisPassword, AccessKey, SecretKey, AdminToken string
}

// Enabled reports whether a service runs in this container.
func (c Config) Enabled(name string) bool { return slices.Contains(c.Services, name) }

// FromEnv reads and checks the environment through getenv (os.Getenv, or a map in tests). Every
// problem is named in one line: the variable, the value (never a secret's) and what is accepted.
func FromEnv(getenv func(string) string) (Config, error) {
	r := &reader{getenv: getenv}
	c := Config{
		DataDir:  r.path("NIXIFY_DATA_DIR", "/data"),
		RunDir:   r.path("NIXIFY_RUN_DIR", "/run/postgresql"),
		Bind:     r.host("NIXIFY_LISTEN", "0.0.0.0"),
		Services: r.services("NIXIFY_SERVICES"),
	}
	r.readPostgres(&c)
	r.readRedis(&c)
	r.readGarage(&c)
	c.AppPort = r.port("APP_PORT", 80)
	c.HealthInterval = r.duration("NIXIFY_HEALTH_INTERVAL", 5*time.Second, MinHealthInterval, time.Hour)
	c.HealthTimeout = r.duration("NIXIFY_HEALTH_TIMEOUT", 2*time.Second, 50*time.Millisecond, time.Minute)
	if c.HealthInterval > 0 && c.HealthTimeout > 0 && c.HealthTimeout >= c.HealthInterval {
		r.fail("NIXIFY_HEALTH_TIMEOUT=%s is not shorter than NIXIFY_HEALTH_INTERVAL=%s: a check must end before the next begins",
			c.HealthTimeout, c.HealthInterval)
	}
	c.MaxRestarts = r.count("NIXIFY_RESTART_LIMIT", 5)
	c.ReadyTimeout = r.duration("NIXIFY_READY_TIMEOUT", 60*time.Second, time.Second, 24*time.Hour)
	r.checkPaths(c)
	r.checkPorts(c)
	if len(r.errs) > 0 {
		return Config{}, fmt.Errorf("%s", strings.Join(r.errs, "; "))
	}
	return c, nil
}

// MinHealthInterval is the shortest NIXIFY_HEALTH_INTERVAL: a shorter one makes the checks a load
// of their own (0.0000001 s burnt 185 % of a CPU) and tells nothing a tenth of a second does not.
const MinHealthInterval = 100 * time.Millisecond

func (r *reader) readPostgres(c *Config) {
	c.PGHost = r.host("PG_HOST", "127.0.0.1")
	c.PGPort = r.port("PG_PORT", 5432)
	c.PGUser = r.role("POSTGRES_USER", "postgres")
	c.PGDB = r.database("POSTGRES_DB", "postgres")
	c.PGPassword = r.password("POSTGRES_PASSWORD")
}

func (r *reader) readRedis(c *Config) {
	c.RedisHost = r.host("REDIS_HOST", "127.0.0.1")
	c.RedisPort = r.port("REDIS_PORT", 6379)
	c.RedisPassword = r.password("REDIS_PASSWORD")
}

func (r *reader) readGarage(c *Config) {
	c.GarageHost = r.host("GARAGE_HOST", "127.0.0.1")
	c.S3Port = r.port("GARAGE_S3_PORT", 3900)
	c.AdminPort = r.port("GARAGE_ADMIN_PORT", 3903)
	c.RPCPort = r.port("NIXIFY_GARAGE_RPC_PORT", 3901)
	c.Bucket = r.match("GARAGE_BUCKET", "nixify", bucketName, "3-63 lower-case letters, digits, dots and dashes")
	c.Region = r.match("GARAGE_REGION", "garage", regionName, "1-63 lower-case letters, digits and dashes")
	c.Capacity = int64(r.count("NIXIFY_GARAGE_CAPACITY_GB", 100)) << 30
	c.AccessKey = r.secret("GARAGE_ACCESS_KEY")
	c.SecretKey = r.secret("GARAGE_SECRET_KEY")
	c.AdminToken = r.password("GARAGE_ADMIN_TOKEN")
	if c.AccessKey != "" && !accessKey.MatchString(c.AccessKey) {
		r.fail("GARAGE_ACCESS_KEY is not a Garage key id: use GK followed by 24 lower-case hex digits")
	}
	if c.SecretKey != "" && !secretKey.MatchString(c.SecretKey) {
		r.fail("GARAGE_SECRET_KEY is not a Garage secret: use 64 lower-case hex digits")
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		r.fail("GARAGE_ACCESS_KEY and GARAGE_SECRET_KEY go together: set both or neither")
	}
}
