package testpeer

import (
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/init/resp"
)

// RedisOptions shapes a Redis started for a test.
type RedisOptions struct {
	Password string   // requirepass; empty means no AUTH
	Args     []string // extra redis-server arguments, for example "--enable-debug-command", "yes"
}

// StartRedis starts Debian's redis-server on a random loopback port, without persistence, and returns
// its host:port once it answers PING. It is stopped when the test ends.
func StartRedis(t testing.TB, opts RedisOptions) string {
	t.Helper()
	return StartRedisProcess(t, opts).Addr()
}

// StartRedisProcess is StartRedis returning the process, for tests that pause or stop it.
func StartRedisProcess(t testing.TB, opts RedisOptions) *Process {
	t.Helper()
	bin := Binary(t, "redis-server")
	dir := t.TempDir()
	port := FreePort(t)
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""}
	if opts.Password != "" {
		args = append(args, "--requirepass", opts.Password)
	}
	args = append(args, opts.Args...)
	p := start(t, exec.Command(bin, args...), port, syscall.SIGTERM)
	waitFor(t, p, "redis-server", 10*time.Second, func() error {
		_, err := RedisDo(p.Addr(), opts.Password, "PING")
		return err
	})
	return p
}

// RedisDo sends one command (after AUTH when password is set) and returns the first line of the reply;
// an error reply is returned as an error. A tiny client so tests need no Redis library.
func RedisDo(addr, password string, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	send := resp.NewConn(conn).Do
	if password != "" {
		if _, err := send("AUTH", password); err != nil {
			return "", err
		}
	}
	return send(args...)
}
