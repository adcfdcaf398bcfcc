package healthserver

import (
	"fmt"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/init/pgwire"
	"github.com/nixify/nixify/internal/testpeer"
	"github.com/nixify/nixify/pkg/health"
)

func TestPostgresCheck(t *testing.T) {
	pg := testpeer.StartPostgresProcess(t, testpeer.PostgresOptions{Password: pgPass, Database: "app"})
	target := PostgresTarget{Host: pg.Host, Port: pg.Port, User: pg.User, Password: pgPass, Database: "app"}
	with := func(f func(*PostgresTarget)) PostgresTarget { c := target; f(&c); return c }

	cases := []struct {
		name     string
		target   PostgresTarget
		status   health.Status
		contains string
	}{
		{"up", target, health.Pass, ""},
		{"wrong password", with(func(c *PostgresTarget) { c.Password = "wrong-Secret-999" }), health.Fail, "auth failed"},
		{"password missing", with(func(c *PostgresTarget) { c.Password = "" }), health.Fail, "password"},
		{"no such database", with(func(c *PostgresTarget) { c.Database = "nope" }), health.Fail, `database "nope" does not exist`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obs := run(t, checkerFor(Postgres, Config{Postgres: c.target, Timeout: 5 * time.Second}), 5*time.Second)
			wantObs(t, obs[0], c.status, c.contains)
		})
	}
	t.Run("refused", func(t *testing.T) {
		h, p := hostPort(t, testpeer.Refused(t))
		tg := with(func(c *PostgresTarget) { c.Host, c.Port = h, p })
		obs := run(t, checkerFor(Postgres, Config{Postgres: tg, Timeout: 2 * time.Second}), 2*time.Second)
		wantObs(t, obs[0], health.Fail, "connection refused")
	})
	t.Run("hung", func(t *testing.T) {
		h, p := hostPort(t, testpeer.Silent(t))
		tg := with(func(c *PostgresTarget) { c.Host, c.Port = h, p })
		obs := run(t, checkerFor(Postgres, Config{Postgres: tg, Timeout: 300 * time.Millisecond}), 300*time.Millisecond)
		wantObs(t, obs[0], health.Fail, "timeout")
	})
	t.Run("paused", func(t *testing.T) {
		pg.Pause(t)
		defer pg.Resume(t)
		obs := run(t, checkerFor(Postgres, Config{Postgres: target, Timeout: 300 * time.Millisecond}), 300*time.Millisecond)
		wantObs(t, obs[0], health.Fail, "timeout")
	})
	t.Run("down", func(t *testing.T) {
		pg.Stop(t)
		obs := run(t, checkerFor(Postgres, Config{Postgres: target, Timeout: 2 * time.Second}), 2*time.Second)
		wantObs(t, obs[0], health.Fail, "connection refused")
	})
}

// PostgreSQL answers SQLSTATE 57P03 only in the instant between accepting connections and finishing
// recovery, too short to catch reliably; the classification is checked on the error value pgwire returns.
func TestPostgresStartingUpIsNotReady(t *testing.T) {
	pgErr := &pgwire.Error{Severity: "FATAL", Code: "57P03", Message: "the database system is starting up"}
	got := describePostgresErr(fmt.Errorf("connect: %w", pgErr), PostgresTarget{User: "postgres"}, "127.0.0.1:5432")
	if got != "not ready: the database system is starting up" {
		t.Fatalf("got %q", got)
	}
}
