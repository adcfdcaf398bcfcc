package initenv

import (
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

const secret = "pw-Secret-4711"

func TestDefaults(t *testing.T) {
	c, err := FromEnv(envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.AppPort != 80 || c.HealthInterval != 5*time.Second || c.HealthTimeout != 2*time.Second || c.ReadyTimeout != time.Minute {
		t.Fatalf("ports/durations: %+v", c)
	}
	if strings.Join(c.Services, ",") != "postgres,redis,garage" || c.DataDir != "/data" || c.Bind != "0.0.0.0" ||
		c.PGPort != 5432 || c.PGUser != "postgres" || c.RedisPort != 6379 || c.Bucket != "nixify" || c.Region != "garage" {
		t.Fatalf("defaults: %+v", c)
	}
}

// TestOneRuleForEveryReader: the values the supervisor and the health server once read by different
// rules (issue 15) now mean one thing.
func TestOneRuleForEveryReader(t *testing.T) {
	c, err := FromEnv(envMap(map[string]string{
		"NIXIFY_SERVICES": " Redis , postgres", "NIXIFY_HEALTH_INTERVAL": "10", "NIXIFY_HEALTH_TIMEOUT": "1.5",
		"NIXIFY_READY_TIMEOUT": "5", "APP_PORT": " 8080 ", "REDIS_PASSWORD": " spaced " + secret,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Services, ",") != "postgres,redis" || c.HealthInterval != 10*time.Second ||
		c.HealthTimeout != 1500*time.Millisecond || c.ReadyTimeout != 5*time.Second || c.AppPort != 8080 ||
		c.RedisPassword != " spaced "+secret {
		t.Fatalf("config: %+v", c)
	}
}

func TestErrorsNameVariableValueAndAccepted(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"APP_PORT": "abc"}, []string{"APP_PORT", `"abc"`, "1 to 65535"}},
		{map[string]string{"PG_PORT": "70000"}, []string{"PG_PORT", "70000", "1 to 65535"}},
		{map[string]string{"NIXIFY_HEALTH_INTERVAL": "soon"}, []string{"NIXIFY_HEALTH_INTERVAL", "soon", "5s"}},
		{map[string]string{"NIXIFY_READY_TIMEOUT": "-1s"}, []string{"NIXIFY_READY_TIMEOUT", "-1s"}},
		{map[string]string{"NIXIFY_HEALTH_TIMEOUT": "5s"}, []string{"NIXIFY_HEALTH_TIMEOUT", "not shorter", "NIXIFY_HEALTH_INTERVAL"}},
		{map[string]string{"NIXIFY_SERVICES": "redis,mysql"}, []string{"NIXIFY_SERVICES", "mysql", "postgres, redis, garage"}},
		{map[string]string{"NIXIFY_SERVICES": " , "}, []string{"NIXIFY_SERVICES", "names no service"}},
		{map[string]string{"NIXIFY_SERVICES": " "}, []string{"NIXIFY_SERVICES", "names no service"}},
		{map[string]string{"REDIS_HOST": "http://x:1"}, []string{"REDIS_HOST", "IP address or host name"}},
		{map[string]string{"NIXIFY_LISTEN": "127.0.0.1\nenable-debug-command yes"}, []string{"NIXIFY_LISTEN", "IP address or host name"}},
		{map[string]string{"NIXIFY_LISTEN": "0.0.0.0 ::1"}, []string{"NIXIFY_LISTEN"}},
		{map[string]string{"NIXIFY_DATA_DIR": "/data dir"}, []string{"NIXIFY_DATA_DIR", "absolute path"}},
		{map[string]string{"NIXIFY_DATA_DIR": "data"}, []string{"NIXIFY_DATA_DIR"}},
		{map[string]string{"NIXIFY_RUN_DIR": "/run/\"x"}, []string{"NIXIFY_RUN_DIR"}},
		{map[string]string{"GARAGE_REGION": "eu\"\nx"}, []string{"GARAGE_REGION"}},
		{map[string]string{"POSTGRES_USER": "a$b"}, []string{"POSTGRES_USER", "letters, digits and _"}},
		{map[string]string{"POSTGRES_USER": "my-app"}, []string{"POSTGRES_USER"}},
		{map[string]string{"POSTGRES_USER": "pg_app"}, []string{"POSTGRES_USER", "pg_"}},
		{map[string]string{"POSTGRES_USER": "public"}, []string{"POSTGRES_USER", "public"}},
		{map[string]string{"POSTGRES_USER": "1app"}, []string{"POSTGRES_USER"}},
		{map[string]string{"POSTGRES_USER": strings.Repeat("a", 64)}, []string{"POSTGRES_USER"}},
		{map[string]string{"POSTGRES_DB": "my db"}, []string{"POSTGRES_DB"}},
		{map[string]string{"REDIS_PASSWORD": strings.Repeat("x", 5000)}, []string{"REDIS_PASSWORD", "at most 4096"}},
		// Issue 21: harmful values. A run directory on the data root made the init chown and chmod
		// it 0700; an interval of 0.0000001 s burnt 185 % CPU; REDIS_PORT = PG_PORT crash-looped.
		{map[string]string{"NIXIFY_RUN_DIR": "/data"}, []string{`NIXIFY_RUN_DIR="/data" overlaps NIXIFY_DATA_DIR (/data)`, "/run/postgresql"}},
		{map[string]string{"NIXIFY_RUN_DIR": "/srv/x/../../data/run/"}, []string{`NIXIFY_RUN_DIR="/data/run" overlaps`}},
		{map[string]string{"NIXIFY_RUN_DIR": "/srv/d", "NIXIFY_DATA_DIR": "/srv/d/data"}, []string{"overlaps NIXIFY_DATA_DIR (/srv/d/data)"}},
		{map[string]string{"NIXIFY_RUN_DIR": "/srv/r", "NIXIFY_DATA_DIR": "/srv/r"}, []string{"overlaps NIXIFY_DATA_DIR"}},
		{map[string]string{"NIXIFY_RUN_DIR": "/data/run", "NIXIFY_DATA_DIR": "/srv/d"}, []string{"overlaps the image's volume (/data)"}},
		{map[string]string{"NIXIFY_RUN_DIR": "/"}, []string{`NIXIFY_RUN_DIR="/" is the system directory /: use`}},
		{map[string]string{"NIXIFY_DATA_DIR": "/"}, []string{`NIXIFY_DATA_DIR="/" is the system directory /`, "such as /data"}},
		{map[string]string{"NIXIFY_DATA_DIR": "/etc/nixify"}, []string{`NIXIFY_DATA_DIR="/etc/nixify" is inside the system directory /etc`}},
		{map[string]string{"NIXIFY_RUN_DIR": "/proc/self"}, []string{"system directory /proc"}},
		{map[string]string{"NIXIFY_RUN_DIR": "/usr"}, []string{"system directory /usr"}},
		{map[string]string{"NIXIFY_RUN_DIR": "/tmp"}, []string{"system directory /tmp"}},
		{map[string]string{"NIXIFY_HEALTH_INTERVAL": "0.0000001"}, []string{`NIXIFY_HEALTH_INTERVAL="0.0000001" is out of bounds: use from 100ms to 1h`}},
		{map[string]string{"NIXIFY_HEALTH_INTERVAL": "2h"}, []string{"NIXIFY_HEALTH_INTERVAL", "out of bounds"}},
		{map[string]string{"NIXIFY_HEALTH_TIMEOUT": "1ms"}, []string{"NIXIFY_HEALTH_TIMEOUT", "from 50ms to 1m"}},
		{map[string]string{"NIXIFY_READY_TIMEOUT": "10ms"}, []string{"NIXIFY_READY_TIMEOUT", "from 1s to 24h"}},
		{map[string]string{"REDIS_PORT": "5432"}, []string{"REDIS_PORT=5432 collides with PG_PORT=5432"}},
		{map[string]string{"APP_PORT": "6379"}, []string{"REDIS_PORT=6379 collides with APP_PORT=6379"}},
		{map[string]string{"GARAGE_ADMIN_PORT": "3900"}, []string{"GARAGE_ADMIN_PORT=3900 collides with GARAGE_S3_PORT=3900"}},
		{map[string]string{"NIXIFY_GARAGE_RPC_PORT": "80"}, []string{"NIXIFY_GARAGE_RPC_PORT=80 collides with APP_PORT=80"}},
		// Issue 21: a short password is refused (and never echoed): hiding it in the log would
		// reveal it.
		{map[string]string{"REDIS_PASSWORD": "o"}, []string{"REDIS_PASSWORD is shorter than 12 characters (length 1): use at least 12"}},
		{map[string]string{"GARAGE_ADMIN_TOKEN": "short-tok"}, []string{"GARAGE_ADMIN_TOKEN is shorter than 12 characters (length 9)"}},
		{map[string]string{"GARAGE_ACCESS_KEY": "GK0123456789abcdef01234567"}, []string{"go together"}},
	}
	for _, c := range cases {
		c.env["POSTGRES_PASSWORD"] = secret
		_, err := FromEnv(envMap(c.env))
		if err == nil {
			t.Errorf("%q: no error", c.env)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not mention %q", c.env, err, w)
			}
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "xxxxxxxxxx") ||
			strings.Contains(err.Error(), "short-tok") || strings.Contains(err.Error(), `"o"`) {
			t.Errorf("error %q leaks a secret or spans lines", err)
		}
	}
}

func TestAcceptedNames(t *testing.T) {
	for _, env := range []map[string]string{
		{"POSTGRES_USER": "app_user", "POSTGRES_DB": "App_1"},
		{"POSTGRES_USER": "_x"},
		{"NIXIFY_LISTEN": "::"},
		{"NIXIFY_LISTEN": "db.internal"},
		{"REDIS_PASSWORD": `back\slash "quoted" and spaces`},
		// Ports only collide between listeners that run: a disabled service's default is free.
		{"NIXIFY_SERVICES": "redis", "PG_PORT": "6379", "APP_PORT": "5432"},
		{"NIXIFY_RUN_DIR": "/tmp/nixify-run", "NIXIFY_DATA_DIR": "/tmp/nixify-data"},
		{"NIXIFY_HEALTH_INTERVAL": "100ms", "NIXIFY_HEALTH_TIMEOUT": "50ms", "NIXIFY_READY_TIMEOUT": "1s"},
	} {
		if _, err := FromEnv(envMap(env)); err != nil {
			t.Errorf("%q refused: %v", env, err)
		}
	}
}
