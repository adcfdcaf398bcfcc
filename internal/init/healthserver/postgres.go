package healthserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nixify/nixify/internal/init/pgwire"
	"github.com/nixify/nixify/pkg/health"
)

// postgresCheck logs in with nixify's own small PostgreSQL client (pgwire) and proves that PostgreSQL
// can still write (writeProbe); pgx's connection layer would cost nixify-init more than the rest of
// the health server. A fresh connection each time proves that logging in still works; at one probe
// per interval it costs the server nothing worth keeping a pool for.
func postgresCheck(t PostgresTarget, timeout time.Duration) checker {
	addr := net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	return func(ctx context.Context) []observation {
		start := time.Now()
		status, out := postgresQuery(ctx, t, addr, timeout)
		return []observation{{Status: status, Latency: time.Since(start), Output: out}}
	}
}

func postgresQuery(ctx context.Context, t PostgresTarget, addr string, timeout time.Duration) (health.Status, string) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pgwire.Connect(ctx, pgwire.Config{Network: "tcp", Address: addr,
		User: t.User, Password: t.Password, Database: t.Database, AppName: "nixify-health"})
	if err != nil {
		return health.Fail, describePostgresErr(err, t, addr)
	}
	defer conn.Close()
	if err := conn.Exec(ctx, writeProbe); err != nil {
		return health.Fail, describePostgresErr(err, t, addr)
	}
	return health.Pass, ""
}

// writeProbe makes PostgreSQL extend a file on the data volume, as every INSERT that grows a table
// does, and keeps nothing: one row into a temporary table (its own file, a page written at the
// insert), rolled back, so the file is unlinked and the catalog rows are left to autovacuum. On a
// full disk it fails as the users' writes do ("could not extend file", SQLSTATE 53100), where
// SELECT 1 passed (issue 21).
const writeProbe = "BEGIN; CREATE TEMP TABLE nixify_write_probe (x int); INSERT INTO nixify_write_probe VALUES (1); ROLLBACK"

// describePostgresErr says in one line why PostgreSQL did not answer. "Starting up" (SQLSTATE 57P03)
// means not ready yet rather than broken, and says so.
func describePostgresErr(err error, t PostgresTarget, addr string) string {
	var pgErr *pgwire.Error
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
		case "53100":
			return "cannot write: the disk holding PostgreSQL's data is full (" + truncate(pgErr.Message, 120) + "): free space on the volume or grow it"
		}
		return fmt.Sprintf("PostgreSQL error %s: %s", pgErr.Code, truncate(pgErr.Message, 160))
	}
	if errors.Is(err, pgwire.ErrPasswordRequired) {
		return fmt.Sprintf("auth required: PostgreSQL asks user %q for a password and POSTGRES_PASSWORD is empty", t.User)
	}
	return describeNetErr(err, addr)
}
