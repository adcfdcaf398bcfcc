package testpeer

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresOptions shapes a PostgreSQL cluster started for a test.
type PostgresOptions struct {
	User     string // superuser name; "postgres" when empty
	Password string // generated when empty; logins need it (scram-sha-256)
	Database string // created when not "postgres"; "postgres" when empty
}

// Postgres is a running cluster and how to log in to it.
type Postgres struct {
	*Process
	User, Password, Database string
	Dir                      string // data directory
}

// StartPostgresProcess runs Debian's initdb and postgres on a random loopback port (as the postgres
// user when the tests run as root, since PostgreSQL refuses root) with password logins, and returns
// the running cluster once a query succeeds; tests may pause or stop it. The cluster is fast and
// unsafe (fsync off) and removed at the end.
func StartPostgresProcess(t testing.TB, opts PostgresOptions) *Postgres {
	t.Helper()
	bin := PostgresBinDir(t)
	if opts.User == "" {
		opts.User = "postgres"
	}
	if opts.Password == "" {
		opts.Password = rand.Text()
	}
	if opts.Database == "" {
		opts.Database = "postgres"
	}
	cred := postgresCredential(t)

	// t.TempDir's parent is private to root; the cluster lives in a directory of its own that the
	// postgres user owns.
	dir, err := os.MkdirTemp("", "testpeer-pg-")
	if err != nil {
		t.Fatalf("postgres data dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data := filepath.Join(dir, "data")
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(opts.Password+"\n"), 0o600); err != nil {
		t.Fatalf("postgres password file: %v", err)
	}
	if cred != nil {
		for _, p := range []string{dir, pwfile} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatalf("chown %s: %v", p, err)
			}
		}
	}

	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", opts.User, "--pwfile", pwfile,
		"--auth", "scram-sha-256", "-N", "-E", "UTF8", "--locale", "C")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	os.Remove(pwfile)

	port := FreePort(t)
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=50")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = dir
	// SIGINT is PostgreSQL's fast shutdown: it does not wait for idle clients.
	pg := &Postgres{Process: start(t, cmd, port, syscall.SIGINT), User: opts.User, Password: opts.Password,
		Database: "postgres", Dir: data}
	waitFor(t, pg.Process, "postgres", 20*time.Second, func() error { return pg.Exec("SELECT 1") })
	if opts.Database != "postgres" {
		if err := pg.Exec("CREATE DATABASE " + pgx.Identifier{opts.Database}.Sanitize()); err != nil {
			t.Fatalf("create database %s: %v", opts.Database, err)
		}
		pg.Database = opts.Database
	}
	return pg
}

// Exec runs one statement as the superuser in the cluster's database.
func (pg *Postgres) Exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return err
	}
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = pg.Host, uint16(pg.Port), pg.User, pg.Password, pg.Database
	cfg.TLSConfig, cfg.Fallbacks = nil, nil
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// postgresCredential is the postgres user's when running as root, nil (the current user) otherwise.
func postgresCredential(t testing.TB) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		Missing(t, "postgres user", fmt.Sprintf("PostgreSQL refuses to run as root and there is no postgres user: %v", err))
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}
