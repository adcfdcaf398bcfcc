// Package pgwire is a small PostgreSQL client: it logs in (trust, cleartext, MD5 or SCRAM-SHA-256),
// runs simple queries and returns their rows as text. It exists so nixify-init, which must stay a
// small static binary, can check and set up its PostgreSQL without pgx's connection layer, whose type
// system and Unicode tables cost more than the init's whole health server. Message framing comes from
// pgx's pgproto3, which depends on nothing but the standard library.
package pgwire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Config says where the server is and whom to log in as. It is built field by field, never parsed
// from a connection string holding the password, so no error can echo the password back.
type Config struct {
	Network  string // "tcp" or "unix"
	Address  string // host:port for tcp; the socket file (see SocketPath) for unix
	User     string // required
	Password string // may be empty where the server trusts the client
	Database string // the user's name when empty, as PostgreSQL does
	AppName  string // application_name shown in pg_stat_activity; optional
}

// SocketPath is the file PostgreSQL listens on in dir for port (its -k and -p options).
func SocketPath(dir string, port int) string {
	return filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(port))
}

// maxMessage bounds one server message: the queries this package serves read a few short rows, and a
// broken or hostile peer must not make the client allocate up to PostgreSQL's own 1 GiB limit.
const maxMessage = 64 << 20

// Conn is one logged-in session. It is not safe for concurrent use. After a network error, a
// cancelled context or a FATAL error from the server it is closed, and every later call fails.
type Conn struct {
	nc     net.Conn
	fe     *pgproto3.Frontend
	closed bool
}

// ErrClosed is returned by calls on a connection that is closed or was broken by an earlier error.
var ErrClosed = errors.New("pgwire: connection is closed")

// Connect dials the server and logs in. ctx bounds the whole of it: its deadline becomes the
// socket's, and when ctx ends the socket is closed, so a server that accepts and then says nothing
// cannot hold the caller.
func Connect(ctx context.Context, cfg Config) (*Conn, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, cfg.Network, cfg.Address)
	if err != nil {
		return nil, err
	}
	c := &Conn{nc: nc, fe: pgproto3.NewFrontend(nc, nc)}
	c.fe.SetMaxBodyLen(maxMessage)
	stop := c.watch(ctx)
	err = c.startup(cfg)
	if !stop() { // ctx ended and closed the socket, perhaps just after the login succeeded
		c.closed = true
	}
	if err != nil || c.closed {
		c.abort()
		return nil, c.ctxErr(ctx, err)
	}
	return c, nil
}

func (cfg Config) validate() error {
	if cfg.Network != "tcp" && cfg.Network != "unix" {
		return fmt.Errorf("pgwire: network %q is not supported; use tcp or unix", cfg.Network)
	}
	if cfg.Address == "" {
		return errors.New("pgwire: no address to connect to")
	}
	if cfg.User == "" {
		return errors.New("pgwire: no user to log in as")
	}
	// The startup and password messages are NUL-terminated strings: a NUL inside would cut them short.
	for _, f := range []struct{ name, value string }{{"user", cfg.User}, {"database", cfg.Database}, {"application name", cfg.AppName}} {
		if strings.IndexByte(f.value, 0) >= 0 {
			return fmt.Errorf("pgwire: the %s %q contains a NUL byte", f.name, strings.ReplaceAll(f.value, "\x00", `\0`))
		}
	}
	if strings.IndexByte(cfg.Password, 0) >= 0 {
		return errors.New("pgwire: the password contains a NUL byte")
	}
	return nil
}

// startup sends the startup message, authenticates and reads the session's parameters up to the
// first ReadyForQuery.
func (c *Conn) startup(cfg Config) error {
	params := map[string]string{"user": cfg.User, "client_encoding": "UTF8"}
	if cfg.Database != "" {
		params["database"] = cfg.Database
	}
	if cfg.AppName != "" {
		params["application_name"] = cfg.AppName
	}
	c.fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: params})
	if err := c.fe.Flush(); err != nil {
		return err
	}
	if err := c.authenticate(cfg); err != nil {
		return err
	}
	for {
		msg, err := c.fe.Receive()
		if err != nil {
			return err
		}
		switch m := msg.(type) {
		case *pgproto3.ParameterStatus, *pgproto3.BackendKeyData, *pgproto3.NoticeResponse, *pgproto3.NegotiateProtocolVersion:
			// No caller reads the server's parameters, no cancel requests are sent, notices are
			// not shown, and 3.0 needs no negotiation.
		case *pgproto3.ErrorResponse:
			return serverError(m)
		case *pgproto3.ReadyForQuery:
			return nil
		default:
			return unexpected(msg, "after login")
		}
	}
}

// Close ends the session politely (Terminate) and closes the socket.
func (c *Conn) Close() error {
	if c.closed {
		return nil
	}
	c.nc.SetDeadline(time.Now().Add(time.Second))
	c.fe.Send(&pgproto3.Terminate{})
	c.fe.Flush()
	c.closed = true
	return c.nc.Close()
}

// abort closes the socket without a goodbye: the session's state is unknown.
func (c *Conn) abort() {
	c.closed = true
	c.nc.Close()
}

// watch ties the socket to ctx for one call: ctx's deadline becomes the socket's, and the socket
// is closed as soon as ctx ends. The returned stop must be called when the call returns; false
// means ctx ended first and the socket is (being) closed.
func (c *Conn) watch(ctx context.Context) (stop func() bool) {
	deadline, _ := ctx.Deadline() // the zero time, no deadline, when ctx has none
	c.nc.SetDeadline(deadline)
	return context.AfterFunc(ctx, func() { c.nc.Close() })
}

// ctxErr reports a failure caused by ctx as ctx's error (context.DeadlineExceeded or Canceled),
// which says more than the closed socket or I/O timeout it showed up as.
func (c *Conn) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("pgwire: %w", ctx.Err())
	}
	if d, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(d) {
		return fmt.Errorf("pgwire: %w", context.DeadlineExceeded)
	}
	return err
}

func unexpected(msg pgproto3.BackendMessage, when string) error {
	return fmt.Errorf("pgwire: unexpected %s from the server %s", strings.TrimPrefix(fmt.Sprintf("%T", msg), "*pgproto3."), when)
}
