package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nixify/nixify/pkg/health"
)

// postgresCheck connects with pgx's connection layer (pgconn) and runs SELECT 1. pgconn rather than
// pgx proper: the type system pgx adds (pgtype) would double the health server's share of nixify-init
// and a health query reads no values. A fresh connection each time proves that logging
// in still works; at one probe per interval it costs the server nothing worth keeping a pool for.
func postgresCheck(t PostgresTarget, timeout time.Duration) checker {
	addr := net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	return func(ctx context.Context) []observation {
		start := time.Now()
		status, out := postgresQuery(ctx, t, addr, timeout)
		return []observation{{Status: status, Latency: time.Since(start), Output: out}}
	}
}

func postgresQuery(ctx context.Context, t PostgresTarget, addr string, timeout time.Duration) (health.Status, string) {
	// The config is built field by field, never from a DSN holding the password, so no error that
	// pgx formats from the config can carry it.
	cfg, err := pgconn.ParseConfig("")
	if err != nil {
		return health.Fail, "PostgreSQL settings from PG* environment variables are invalid"
	}
	cfg.Host, cfg.Port = t.Host, uint16(t.Port)
	cfg.User, cfg.Password, cfg.Database = t.User, t.Password, t.Database
	cfg.TLSConfig, cfg.Fallbacks = nil, nil
	cfg.ConnectTimeout = timeout
	cfg.RuntimeParams = map[string]string{"application_name": "nixify-health"}

	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return health.Fail, describePostgresErr(err, t, addr)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "SELECT 1").ReadAll(); err != nil {
		return health.Fail, describePostgresErr(err, t, addr)
	}
	return health.Pass, ""
}

// describePostgresErr says in one line why PostgreSQL did not answer. "Starting up" (SQLSTATE 57P03)
// means not ready yet rather than broken, and says so.
func describePostgresErr(err error, t PostgresTarget, addr string) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57P03":
			return "not ready: the database system is starting up"
		case "57P01", "57P02":
			return "not ready: the database system is shutting down"
		case "28P01":
			return fmt.Sprintf("auth failed: wrong password for user %q", t.User)
		case "28000":
			return fmt.Sprintf("auth rejected for user %q: %s", t.User, truncate(pgErr.Message, 160))
		case "3D000":
			return fmt.Sprintf("database %q does not exist", t.Database)
		case "53300":
			return "too many connections: PostgreSQL refused a new one"
		}
		return fmt.Sprintf("PostgreSQL error %s: %s", pgErr.Code, truncate(pgErr.Message, 160))
	}
	msg := err.Error()
	if t.Password == "" && strings.Contains(msg, "password") {
		return fmt.Sprintf("auth required: PostgreSQL asks user %q for a password and POSTGRES_PASSWORD is empty", t.User)
	}
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) || strings.Contains(msg, "timeout") {
		return fmt.Sprintf("timeout: no answer from %s within the check timeout", addr)
	}
	return describeNetErr(err, addr)
}
