package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nixify/nixify/internal/init/pgwire"
	"github.com/nixify/nixify/internal/init/supervisor"
	"github.com/nixify/nixify/internal/initenv"
)

// pgHBA lets a local socket connection in by who the connecting process is (peer), through the map
// in pgIdent, and asks every TCP client for a SCRAM password. The socket's directory is open to
// postgres and root only, so no other user of the container (redis, garage) gets near it.
// Replication connections ("all" does not match them) are let in on the socket alone, by the same
// rule: `nixify backup` runs pg_basebackup inside the container as postgres; over TCP none.
const pgHBA = `# Written by nixify-init on every boot; edits are overwritten.
local all all peer map=nixify
local replication all peer map=nixify
host  all all 0.0.0.0/0 scram-sha-256
host  all all ::/0      scram-sha-256
`

// pgIdent maps the operating-system users allowed on the socket to roles: root (the init and its
// probe) and postgres (psql run inside the container) may log in as POSTGRES_USER, and any user
// as the role of its own name.
func pgIdent(role string) string {
	return "# Written by nixify-init on every boot; edits are overwritten.\n" +
		"nixify root " + role + "\n" +
		"nixify postgres " + role + "\n" +
		"nixify /^(.*)$ \\1\n"
}

func postgres(c initenv.Config, sec *Secrets) (supervisor.Service, error) {
	initdb, err := program("initdb")
	if err != nil {
		return supervisor.Service{}, err
	}
	server, err := program("postgres")
	if err != nil {
		return supervisor.Service{}, err
	}
	dir := filepath.Join(c.DataDir, "postgres")
	listen := c.Bind
	if listen == "0.0.0.0" {
		listen = "*"
	}
	return supervisor.Service{
		Name: initenv.Postgres, User: "postgres", DataDir: dir, DataMode: 0o700,
		Prepare: func(ctx context.Context, run supervisor.Runner) error {
			return preparePostgres(ctx, run, c, initdb, dir)
		},
		Command: supervisor.Command{Path: server, User: "postgres",
			Args: []string{"-D", dir, "-p", fmt.Sprint(c.PGPort), "-k", c.RunDir, "-h", listen,
				"-c", "password_encryption=scram-sha-256"}},
		Ready: func(ctx context.Context) error {
			if err := postmasterReady(dir); err != nil {
				return err
			}
			conn, err := pgConnect(ctx, c, "template1")
			if err != nil {
				return pgLoginError(err, c)
			}
			defer conn.Close()
			return conn.Exec(ctx, "SELECT 1")
		},
		Setup: func(ctx context.Context) error { return setupPostgres(ctx, c, sec.PGPassword) },
		// Fast shutdown: SIGINT to the postmaster rolls back open transactions and checkpoints;
		// SIGTERM (smart) could wait forever for idle clients. The shutdown checkpoint writes
		// every dirty buffer (up to shared_buffers, 128 MB): the largest flush of the three,
		// hence the largest budget. PostgreSQL's 4.5 s, Redis's 2.5 s and Garage's 2 s stay
		// inside Docker's default 10 s together.
		StopSignal: syscall.SIGINT, StopBudget: 4500 * time.Millisecond,
		Forward: []syscall.Signal{syscall.SIGHUP}, // reloads the configuration
	}, nil
}

// preparePostgres creates the socket directory, runs initdb when the cluster does not exist yet,
// and rewrites pg_hba.conf.
func preparePostgres(ctx context.Context, run supervisor.Runner, c initenv.Config, initdb, dir string) error {
	uid, gid, err := supervisor.Owner("postgres")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.RunDir, 0o700); err != nil {
		return fmt.Errorf("create socket directory %s: %w", c.RunDir, err)
	}
	if err := os.Chmod(c.RunDir, 0o700); err != nil {
		return fmt.Errorf("chmod %s: %w", c.RunDir, err)
	}
	if err := os.Chown(c.RunDir, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", c.RunDir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); errors.Is(err, fs.ErrNotExist) {
		if err := initCluster(ctx, run, c, initdb, dir, uid, gid); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if err := writeGenerated(filepath.Join(dir, "pg_ident.conf"), []byte(pgIdent(c.PGUser)), uid, gid); err != nil {
		return err
	}
	return writeGenerated(filepath.Join(dir, "pg_hba.conf"), []byte(pgHBA), uid, gid)
}

// initCluster runs initdb in a scratch directory and renames the result into place: PG_VERSION
// marks a complete cluster, so a boot interrupted half-way is simply done again next time instead
// of meeting a broken cluster.
func initCluster(ctx context.Context, run supervisor.Runner, c initenv.Config, initdb, dir string, uid, gid int) error {
	scratch := filepath.Join(c.DataDir, ".postgres-initdb")
	if err := os.RemoveAll(scratch); err != nil {
		return err
	}
	if err := os.Mkdir(scratch, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", scratch, err)
	}
	if err := os.Chown(scratch, uid, gid); err != nil {
		return err
	}
	err := run.Exec(ctx, "postgres", supervisor.Command{Path: initdb, User: "postgres", Env: initdbEnv(), Args: []string{
		"-D", scratch, "-U", c.PGUser, "--encoding=UTF8", "--locale=C",
		"--auth-local=peer", "--auth-host=scram-sha-256", "--no-instructions"}})
	if err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	// dir holds no cluster (no PG_VERSION). An interrupted boot leaves it empty (the cluster only
	// ever arrives by the rename below), so files in it are someone else's: a restore that lost
	// PG_VERSION, another program's data. They are never deleted; the boot stops and says so.
	// One rename puts the complete cluster in place; a crash before it leaves no cluster, and the
	// next boot runs initdb again.
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("%s holds files but no PG_VERSION, so it is not a cluster nixify-init made, and it "+
				"deletes nothing it did not make: move them elsewhere (or restore the cluster with its PG_VERSION) and start again", dir)
		}
		return fmt.Errorf("clear %s: %w", dir, err)
	}
	if err := os.Rename(scratch, dir); err != nil {
		return fmt.Errorf("move initdb output: %w", err)
	}
	return syncDir(c.DataDir)
}

// initdbEnv gives initdb a time zone: without TZ it scans the whole time-zone database for the
// one matching the system's clock (about a second of a first boot in a container, issue 23). The
// container's TZ, when set, reaches initdb anyway (the child environment keeps it); else UTC, which
// is what a container without a zone runs in.
func initdbEnv() []string {
	if os.Getenv("TZ") != "" {
		return nil
	}
	return []string{"TZ=UTC"}
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// postmasterReady reads the status the postmaster keeps in postmaster.pid (its 8th line, as pg_ctl
// does) and says whether it accepts connections. Asked first, it spares PostgreSQL's log one
// "the database system is starting up" line per poll while it recovers.
func postmasterReady(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return fmt.Errorf("not started yet: %w", unwrapPath(err))
	}
	if lines := strings.Split(string(b), "\n"); len(lines) < 8 || strings.TrimSpace(lines[7]) != "ready" {
		return errors.New("not ready yet: the postmaster is starting")
	}
	return nil
}

// pgLoginError marks a login that waiting cannot fix as permanent, with the fix: a role missing from
// an existing cluster means POSTGRES_USER changed after the first boot.
func pgLoginError(err error, c initenv.Config) error {
	var pgErr *pgwire.Error
	if errors.As(err, &pgErr) && pgErr.Code == "28000" && strings.Contains(pgErr.Message, "does not exist") {
		return supervisor.Permanent(fmt.Errorf("%s: the cluster in %s was created with another POSTGRES_USER; "+
			"set POSTGRES_USER back to the name used on the first boot, or start with an empty data volume",
			pgErr.Message, filepath.Join(c.DataDir, "postgres")))
	}
	return err
}

// pgConnect opens a connection over the local socket, where the init logs in as root (peer). pgwire rather than
// pgx: the init must stay a small static binary, and three statements need no type system.
func pgConnect(ctx context.Context, c initenv.Config, db string) (*pgwire.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return pgwire.Connect(ctx, pgwire.Config{Network: "unix", Address: pgwire.SocketPath(c.RunDir, c.PGPort),
		User: c.PGUser, Database: db, AppName: "nixify-init"})
}

// setupPostgres sets POSTGRES_USER's password and creates POSTGRES_DB, on every boot, so a changed
// POSTGRES_PASSWORD takes effect. The password travels as a SCRAM verifier, never in clear, so it
// cannot appear in the server's log.
func setupPostgres(ctx context.Context, c initenv.Config, password string) error {
	conn, err := pgConnect(ctx, c, "template1")
	if err != nil {
		return fmt.Errorf("connect as %s: %w", c.PGUser, pgLoginError(err, c))
	}
	defer conn.Close()
	role := pgwire.QuoteIdent(c.PGUser)
	verifier, err := pgwire.SCRAMVerifier(password)
	if err != nil {
		return err
	}
	if err := conn.Exec(ctx, fmt.Sprintf("ALTER ROLE %s WITH LOGIN PASSWORD %s", role, pgwire.QuoteLiteral(verifier))); err != nil {
		return fmt.Errorf("set password of %s: %w", c.PGUser, err)
	}
	found, err := conn.Query(ctx, "SELECT 1 FROM pg_database WHERE datname = "+pgwire.QuoteLiteral(c.PGDB))
	if err != nil {
		return fmt.Errorf("look up database %s: %w", c.PGDB, err)
	}
	if len(found) == 0 {
		if err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s OWNER %s", pgwire.QuoteIdent(c.PGDB), role)); err != nil {
			return fmt.Errorf("create database %s: %w", c.PGDB, err)
		}
	}
	return nil
}
