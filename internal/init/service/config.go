// Package service defines the container's services (PostgreSQL, Redis, Garage) as data for the
// supervisor: who runs them, where their data lives, their first-boot steps, commands, readiness
// probes and stop rules. It also reads and checks the environment they are configured by, and
// keeps the secrets generated on first boot.
package service

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Known lists every service in start order; NIXIFY_SERVICES selects among them.
var Known = []string{"postgres", "redis", "garage"}

// Config is the environment, checked. Ports are numbers, names are known, the data root is usable.
type Config struct {
	DataDir  string   // NIXIFY_DATA_DIR
	RunDir   string   // NIXIFY_RUN_DIR: PostgreSQL's socket directory
	Bind     string   // NIXIFY_LISTEN: address services listen on (NIXIFY_BIND is the CLI's host address)
	Services []string // enabled, in start order

	PGPort     int
	PGUser     string
	PGDB       string
	RedisPort  int
	RedisPass  string
	AppPort    int
	S3Port     int
	AdminPort  int
	RPCPort    int
	Bucket     string
	Region     string
	Capacity   int64
	StopBudget time.Duration // per service; the three together stay inside Docker's 10 s

	MaxRestarts  int
	ReadyTimeout time.Duration

	// Given secrets (empty = generate or reuse the stored one).
	PGPassword, AccessKey, SecretKey, AdminToken string
}

var (
	identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$-]{0,62}$`)
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	accessKey  = regexp.MustCompile(`^GK[0-9a-f]{24}$`)
	secretKey  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ConfigFromEnv reads and checks the environment. Every error is one line naming the variable, the
// value and what is accepted. It creates nothing.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	get := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	var errs []string
	port := func(k string, def int) int {
		v := get(k, strconv.Itoa(def))
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			errs = append(errs, fmt.Sprintf("%s=%q is not a port: use a number from 1 to 65535", k, v))
		}
		return n
	}
	positive := func(k string, def int) int {
		v := get(k, strconv.Itoa(def))
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Sprintf("%s=%q is not a count: use a whole number, 0 or more", k, v))
		}
		return n
	}
	duration := func(k string, def time.Duration) time.Duration {
		v := get(k, def.String())
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Sprintf("%s=%q is not a duration: use for example 30s or 2m", k, v))
		}
		return d
	}
	c := Config{
		DataDir:      get("NIXIFY_DATA_DIR", "/data"),
		RunDir:       get("NIXIFY_RUN_DIR", "/run/postgresql"),
		Bind:         get("NIXIFY_LISTEN", "0.0.0.0"),
		PGPort:       port("PG_PORT", 5432),
		PGUser:       get("POSTGRES_USER", "postgres"),
		PGDB:         get("POSTGRES_DB", "postgres"),
		RedisPort:    port("REDIS_PORT", 6379),
		RedisPass:    getenv("REDIS_PASSWORD"),
		AppPort:      port("APP_PORT", 80),
		S3Port:       port("GARAGE_S3_PORT", 3900),
		AdminPort:    port("GARAGE_ADMIN_PORT", 3903),
		RPCPort:      port("NIXIFY_GARAGE_RPC_PORT", 3901),
		Bucket:       get("GARAGE_BUCKET", "nixify"),
		Region:       get("GARAGE_REGION", "garage"),
		Capacity:     int64(positive("NIXIFY_GARAGE_CAPACITY_GB", 100)) << 30,
		StopBudget:   3 * time.Second,
		MaxRestarts:  positive("NIXIFY_RESTART_LIMIT", 5),
		ReadyTimeout: duration("NIXIFY_READY_TIMEOUT", 60*time.Second),
		PGPassword:   getenv("POSTGRES_PASSWORD"),
		AccessKey:    getenv("GARAGE_ACCESS_KEY"),
		SecretKey:    getenv("GARAGE_SECRET_KEY"),
		AdminToken:   getenv("GARAGE_ADMIN_TOKEN"),
	}
	list := get("NIXIFY_SERVICES", strings.Join(Known, ","))
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !slices.Contains(Known, name) {
			errs = append(errs, fmt.Sprintf("NIXIFY_SERVICES names an unknown service %q: use a comma-separated list of %s", name, strings.Join(Known, ", ")))
		}
	}
	for _, name := range Known { // keep the start order whatever order was written
		if slices.Contains(strings.Split(strings.ReplaceAll(list, " ", ""), ","), name) {
			c.Services = append(c.Services, name)
		}
	}
	if !filepath.IsAbs(c.DataDir) {
		errs = append(errs, fmt.Sprintf("NIXIFY_DATA_DIR=%q is not an absolute path", c.DataDir))
	}
	if !filepath.IsAbs(c.RunDir) {
		errs = append(errs, fmt.Sprintf("NIXIFY_RUN_DIR=%q is not an absolute path", c.RunDir))
	}
	if !identifier.MatchString(c.PGUser) {
		errs = append(errs, fmt.Sprintf("POSTGRES_USER=%q is not a valid role name: use letters, digits and _ (up to 63)", c.PGUser))
	}
	if !identifier.MatchString(c.PGDB) {
		errs = append(errs, fmt.Sprintf("POSTGRES_DB=%q is not a valid database name: use letters, digits and _ (up to 63)", c.PGDB))
	}
	if !bucketName.MatchString(c.Bucket) {
		errs = append(errs, fmt.Sprintf("GARAGE_BUCKET=%q is not a valid bucket name: 3-63 lower-case letters, digits, dots and dashes", c.Bucket))
	}
	if c.AccessKey != "" && !accessKey.MatchString(c.AccessKey) {
		errs = append(errs, "GARAGE_ACCESS_KEY is not a Garage key id: use GK followed by 24 lower-case hex digits")
	}
	if c.SecretKey != "" && !secretKey.MatchString(c.SecretKey) {
		errs = append(errs, "GARAGE_SECRET_KEY is not a Garage secret: use 64 lower-case hex digits")
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		errs = append(errs, "GARAGE_ACCESS_KEY and GARAGE_SECRET_KEY go together: set both or neither")
	}
	if strings.ContainsAny(c.RedisPass, "\n\r\" ") {
		errs = append(errs, "REDIS_PASSWORD contains spaces, quotes or line breaks, which Redis's configuration cannot hold")
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return c, nil
}

// Enabled reports whether a service runs in this container.
func (c Config) Enabled(name string) bool { return slices.Contains(c.Services, name) }

// CheckDataRoot makes sure the data root exists (creating it if needed) and can be written, before
// anything else is created in it.
func (c Config) CheckDataRoot() error {
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return fmt.Errorf("NIXIFY_DATA_DIR=%s cannot be created: %w", c.DataDir, unwrapPath(err))
	}
	f, err := os.CreateTemp(c.DataDir, ".nixify-write-test-*")
	if err != nil {
		return fmt.Errorf("NIXIFY_DATA_DIR=%s is not writable: %w", c.DataDir, unwrapPath(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// unwrapPath drops the path from an *os.PathError, which the message already names.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
