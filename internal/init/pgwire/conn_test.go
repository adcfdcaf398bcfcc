package pgwire

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/testpeer"
)

const (
	md5User   = "md5user"
	clearUser = "clearuser"
	rolePass  = "Role-Secret-4711"
)

// cluster is a real PostgreSQL whose pg_hba.conf also trusts the unix socket, asks md5user for an MD5
// password and clearuser for a cleartext one; every other TCP login uses SCRAM-SHA-256.
type cluster struct {
	pg     *testpeer.Postgres
	socket string
}

func startCluster(t *testing.T) cluster {
	t.Helper()
	pg := testpeer.StartPostgresProcess(t, testpeer.PostgresOptions{Password: "Sup3r-Secret-pw"})
	hbaFile := filepath.Join(pg.Dir, "pg_hba.conf")
	hba, err := os.ReadFile(hbaFile)
	if err != nil {
		t.Fatal(err)
	}
	extra := "local all all trust\n" +
		"host all " + md5User + " 127.0.0.1/32 md5\n" +
		"host all " + clearUser + " 127.0.0.1/32 password\n"
	if err := os.WriteFile(hbaFile, append([]byte(extra), hba...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := pg.Exec("SELECT pg_reload_conf()"); err != nil {
		t.Fatalf("reload pg_hba.conf: %v", err)
	}
	c := cluster{pg: pg, socket: SocketPath(filepath.Dir(pg.Dir), pg.Port)}

	// The postmaster rereads pg_hba.conf a moment after pg_reload_conf returns; the socket's trust
	// line shows when it has.
	var conn *Conn
	for deadline := time.Now().Add(15 * time.Second); ; {
		if conn, err = Connect(testCtx(t), c.unix()); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("trust login over the unix socket after reloading pg_hba.conf: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer conn.Close()
	for _, sql := range []string{
		"SET password_encryption = 'md5'",
		"CREATE ROLE " + md5User + " LOGIN PASSWORD " + QuoteLiteral(rolePass),
		"RESET password_encryption",
		"CREATE ROLE " + clearUser + " LOGIN PASSWORD " + QuoteLiteral(rolePass),
	} {
		if err := conn.Exec(testCtx(t), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	return c
}

func (c cluster) unix() Config {
	return Config{Network: "unix", Address: c.socket, User: c.pg.User, Database: "postgres", AppName: "pgwire-test"}
}

func (c cluster) tcp(user, password string) Config {
	return Config{Network: "tcp", Address: c.pg.Addr(), User: user, Password: password, Database: "postgres"}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func connect(t *testing.T, cfg Config) *Conn {
	t.Helper()
	conn, err := Connect(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("connect as %s over %s: %v", cfg.User, cfg.Network, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// whoami proves the session is logged in as user and answers queries.
func whoami(t *testing.T, conn *Conn, user string) {
	t.Helper()
	rows, err := conn.Query(testCtx(t), "SELECT current_user")
	if err != nil {
		t.Fatalf("SELECT current_user: %v", err)
	}
	if len(rows) != 1 || len(rows[0]) != 1 || rows[0][0] == nil || *rows[0][0] != user {
		t.Fatalf("SELECT current_user = %v, want %s", rows, user)
	}
}

func TestConn(t *testing.T) {
	c := startCluster(t)

	t.Run("scram", func(t *testing.T) {
		conn := connect(t, c.tcp(c.pg.User, c.pg.Password))
		whoami(t, conn, c.pg.User)
	})
	t.Run("md5", func(t *testing.T) {
		// The server asks for MD5 only when the stored password is an MD5 hash, not a SCRAM verifier.
		rows, err := connect(t, c.unix()).Query(testCtx(t), "SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = "+QuoteLiteral(md5User))
		if err != nil || render(rows) != "md5" {
			t.Fatalf("stored password of %s starts with %s (%v), want md5", md5User, render(rows), err)
		}
		whoami(t, connect(t, c.tcp(md5User, rolePass)), md5User)
	})
	t.Run("cleartext", func(t *testing.T) { whoami(t, connect(t, c.tcp(clearUser, rolePass)), clearUser) })
	t.Run("unix socket trust", func(t *testing.T) { whoami(t, connect(t, c.unix()), c.pg.User) })

	t.Run("wrong password", func(t *testing.T) {
		for _, user := range []string{c.pg.User, md5User, clearUser} {
			const wrong = "Wrong-Secret-0815"
			_, err := Connect(testCtx(t), c.tcp(user, wrong))
			wantCode(t, err, "28P01")
			if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), rolePass) {
				t.Fatalf("%s: the error shows the password: %v", user, err)
			}
		}
	})
	t.Run("no password", func(t *testing.T) {
		_, err := Connect(testCtx(t), c.tcp(c.pg.User, ""))
		if !errors.Is(err, ErrPasswordRequired) {
			t.Fatalf("err = %v, want ErrPasswordRequired", err)
		}
	})
	t.Run("unknown database", func(t *testing.T) {
		cfg := c.tcp(c.pg.User, c.pg.Password)
		cfg.Database = "nope"
		_, err := Connect(testCtx(t), cfg)
		wantCode(t, err, "3D000")
	})

	conn := connect(t, c.unix())
	t.Run("rows and NULLs", func(t *testing.T) {
		rows, err := conn.Query(testCtx(t), "SELECT 1, NULL::text, 'it''s', '' UNION ALL SELECT 2, 'b', NULL, NULL")
		if err != nil {
			t.Fatal(err)
		}
		got := render(rows)
		want := "1|NULL|it's|'' ; 2|b|NULL|NULL"
		if got != want {
			t.Fatalf("rows = %s, want %s", got, want)
		}
	})
	t.Run("several statements and none", func(t *testing.T) {
		rows, err := conn.Query(testCtx(t), "SELECT 1; CREATE TEMP TABLE t (a int); SELECT 2")
		if err != nil || render(rows) != "1 ; 2" {
			t.Fatalf("rows = %s, err = %v; want 1 ; 2", render(rows), err)
		}
		if rows, err := conn.Query(testCtx(t), " "); err != nil || len(rows) != 0 {
			t.Fatalf("empty query: rows = %v, err = %v", rows, err)
		}
	})
	t.Run("syntax error keeps the session", func(t *testing.T) {
		wantCode(t, conn.Exec(testCtx(t), "SELEC 1"), "42601")
		whoami(t, conn, c.pg.User)
	})
	t.Run("COPY FROM STDIN is refused", func(t *testing.T) {
		var pgErr *Error
		if err := conn.Exec(testCtx(t), "COPY t FROM STDIN"); !errors.As(err, &pgErr) {
			t.Fatalf("err = %v, want a server error", err)
		}
		whoami(t, conn, c.pg.User)
	})
	t.Run("NUL in a query", func(t *testing.T) {
		if err := conn.Exec(testCtx(t), "SELECT 1\x00; DROP TABLE t"); err == nil {
			t.Fatal("a query with a NUL byte ran")
		}
		whoami(t, conn, c.pg.User)
	})
	t.Run("quoting", func(t *testing.T) {
		values := []string{`plain`, `it's`, `back\slash`, `\'`, `''\\`, `Grüße, "quoted"`, ``}
		for _, scs := range []string{"on", "off"} {
			if err := conn.Exec(testCtx(t), "SET standard_conforming_strings = "+scs); err != nil {
				t.Fatal(err)
			}
			for _, v := range values {
				rows, err := conn.Query(testCtx(t), "SELECT "+QuoteLiteral(v))
				if err != nil || len(rows) != 1 || rows[0][0] == nil || *rows[0][0] != v {
					t.Fatalf("standard_conforming_strings=%s: SELECT %s = %s, %v; want %q", scs, QuoteLiteral(v), render(rows), err, v)
				}
			}
		}
		for _, name := range []string{`Weird "Name"`, `a;b`, `x`} {
			if err := conn.Exec(testCtx(t), "CREATE TEMP TABLE "+QuoteIdent(name)+" (a int)"); err != nil {
				t.Fatalf("CREATE TEMP TABLE %s: %v", QuoteIdent(name), err)
			}
			rows, err := conn.Query(testCtx(t), "SELECT relname FROM pg_class WHERE relname = "+QuoteLiteral(name))
			if err != nil || len(rows) != 1 {
				t.Fatalf("table %q not found: %s, %v", name, render(rows), err)
			}
		}
	})
	t.Run("context ends a running query", func(t *testing.T) {
		conn := connect(t, c.unix())
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		err := within(t, func() error { return conn.Exec(ctx, "SELECT pg_sleep(30)") })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
		if err := conn.Exec(testCtx(t), "SELECT 1"); !errors.Is(err, ErrClosed) {
			t.Fatalf("after the context ended: err = %v, want ErrClosed", err)
		}
	})
	t.Run("FATAL closes the session", func(t *testing.T) {
		conn := connect(t, c.unix())
		wantCode(t, conn.Exec(testCtx(t), "SELECT pg_terminate_backend(pg_backend_pid())"), "57P01")
		if err := conn.Exec(testCtx(t), "SELECT 1"); !errors.Is(err, ErrClosed) {
			t.Fatalf("after FATAL: err = %v, want ErrClosed", err)
		}
	})
}

func TestConnectSilentServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := within(t, func() error {
		_, err := Connect(ctx, Config{Network: "tcp", Address: testpeer.Silent(t), User: "u", Password: "p"})
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	err = within(t, func() error {
		_, err := Connect(ctx, Config{Network: "tcp", Address: testpeer.Silent(t), User: "u", Password: "p"})
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestConfigErrors(t *testing.T) {
	const secret = "S3cr\x00et-pw"
	cases := []Config{
		{Network: "udp", Address: "x", User: "u"},
		{Network: "tcp", User: "u"},
		{Network: "tcp", Address: "x"},
		{Network: "tcp", Address: "x", User: "u\x00"},
		{Network: "tcp", Address: "x", User: "u", Password: secret},
	}
	for _, cfg := range cases {
		_, err := Connect(context.Background(), cfg)
		if err == nil {
			t.Fatalf("%+v: no error", cfg)
		}
		if strings.Contains(err.Error(), "S3cr") {
			t.Fatalf("the error shows the password: %v", err)
		}
	}
}

// within runs f and fails the test if it hangs: a liveness guard, far above any expected time.
func within(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("the call ignored its context and hung")
		return nil
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var pgErr *Error
	if !errors.As(err, &pgErr) || pgErr.Code != code {
		t.Fatalf("err = %v, want SQLSTATE %s", err, code)
	}
}

// render shows rows as "a|b ; c|d", NULL for nil and ” for the empty string.
func render(rows [][]*string) string {
	var lines []string
	for _, row := range rows {
		var cells []string
		for _, v := range row {
			switch {
			case v == nil:
				cells = append(cells, "NULL")
			case *v == "":
				cells = append(cells, "''")
			default:
				cells = append(cells, *v)
			}
		}
		lines = append(lines, strings.Join(cells, "|"))
	}
	return strings.Join(lines, " ; ")
}

// TestSCRAMVerifierSetsAWorkingPassword sets a role's password from SCRAMVerifier, as the init does,
// and logs in with the clear password over TCP: the server accepts what the verifier encodes.
func TestSCRAMVerifierSetsAWorkingPassword(t *testing.T) {
	c := startCluster(t)
	admin := connect(t, c.unix())
	v1, err := SCRAMVerifier("v3rifier-pw")
	if err != nil {
		t.Fatal(err)
	}
	v2, _ := SCRAMVerifier("v3rifier-pw")
	if v1 == v2 || !strings.HasPrefix(v1, "SCRAM-SHA-256$4096:") || strings.Contains(v1, "v3rifier-pw") {
		t.Fatalf("verifiers %q and %q: want a fresh salt each time and no clear text", v1, v2)
	}
	if err := admin.Exec(testCtx(t), "CREATE ROLE verified LOGIN PASSWORD "+QuoteLiteral(v1)); err != nil {
		t.Fatal(err)
	}
	whoami(t, connect(t, c.tcp("verified", "v3rifier-pw")), "verified")
	_, err = Connect(testCtx(t), c.tcp("verified", "wrong"))
	var pgErr *Error
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Fatalf("wrong password: %v", err)
	}
}
