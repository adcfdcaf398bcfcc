package healthserver

import (
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigDefaults(t *testing.T) {
	cfg, err := ConfigFromEnv(envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":80" || cfg.Interval != 5*time.Second || cfg.Timeout != 2*time.Second {
		t.Fatalf("addr/interval/timeout: %s %s %s", cfg.Addr, cfg.Interval, cfg.Timeout)
	}
	if strings.Join(cfg.Services, ",") != "postgres,redis,garage" {
		t.Fatalf("services %v", cfg.Services)
	}
	if cfg.Redis != (RedisTarget{"127.0.0.1", 6379, ""}) || cfg.Postgres.Port != 5432 || cfg.Postgres.User != "postgres" ||
		cfg.Postgres.Database != "postgres" || cfg.Garage.S3Port != 3900 || cfg.Garage.AdminPort != 3903 ||
		cfg.Garage.Region != "garage" || cfg.Garage.Bucket != "nixify" {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestConfigFromEnv(t *testing.T) {
	cfg, err := ConfigFromEnv(envMap(map[string]string{
		"APP_PORT": "8080", "REDIS_HOST": "cache", "REDIS_PORT": "7000", "REDIS_PASSWORD": redisPass,
		"NIXIFY_SERVICES": " Redis , postgres", "NIXIFY_HEALTH_INTERVAL": "10s", "NIXIFY_HEALTH_TIMEOUT": "1.5",
		"GARAGE_ACCESS_KEY": s3Access, "GARAGE_SECRET_KEY": s3Secret,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":8080" || cfg.Redis != (RedisTarget{"cache", 7000, redisPass}) || cfg.Timeout != 1500*time.Millisecond ||
		strings.Join(cfg.Services, ",") != "postgres,redis" || cfg.Garage.SecretKey != s3Secret {
		t.Fatalf("config: %+v", cfg)
	}
}

func TestConfigErrorsNameVariableValueAndAccepted(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"APP_PORT": "abc"}, []string{"APP_PORT", `"abc"`, "1 to 65535"}},
		{map[string]string{"PG_PORT": "70000"}, []string{"PG_PORT", "70000", "1 to 65535"}},
		{map[string]string{"NIXIFY_HEALTH_INTERVAL": "soon"}, []string{"NIXIFY_HEALTH_INTERVAL", "soon", "5s"}},
		{map[string]string{"NIXIFY_HEALTH_TIMEOUT": "-1s"}, []string{"NIXIFY_HEALTH_TIMEOUT", "-1s"}},
		{map[string]string{"NIXIFY_HEALTH_TIMEOUT": "5s"}, []string{"NIXIFY_HEALTH_TIMEOUT", "not shorter", "NIXIFY_HEALTH_INTERVAL"}},
		{map[string]string{"NIXIFY_SERVICES": "redis,mysql"}, []string{"NIXIFY_SERVICES", "mysql", "postgres, redis, garage"}},
		{map[string]string{"NIXIFY_SERVICES": ", ,"}, []string{"NIXIFY_SERVICES", "names no service"}},
		{map[string]string{"REDIS_HOST": "http://x:1"}, []string{"REDIS_HOST", "without port or scheme"}},
	}
	for _, c := range cases {
		c.env["POSTGRES_PASSWORD"] = pgPass
		c.env["REDIS_PASSWORD"] = redisPass
		_, err := ConfigFromEnv(envMap(c.env))
		if err == nil {
			t.Errorf("%v: no error", c.env)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not mention %q", c.env, err, w)
			}
		}
		if strings.Contains(err.Error(), pgPass) || strings.Contains(err.Error(), redisPass) || strings.Contains(err.Error(), "\n") {
			t.Errorf("error %q leaks a secret or spans lines", err)
		}
	}
}
