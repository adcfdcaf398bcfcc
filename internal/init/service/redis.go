package service

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nixify/nixify/internal/init/resp"
	"github.com/nixify/nixify/internal/init/supervisor"
)

func redis(c Config) (supervisor.Service, error) {
	server, err := program("redis-server")
	if err != nil {
		return supervisor.Service{}, err
	}
	dir := filepath.Join(c.DataDir, "redis")
	conf := filepath.Join(dir, "redis.conf")
	return supervisor.Service{
		Name: "redis", User: "redis", DataDir: dir, DataMode: 0o700,
		Prepare: func(context.Context, supervisor.Runner) error {
			uid, gid, err := supervisor.Owner("redis")
			if err != nil {
				return err
			}
			// The password goes in this 0600 file, not on the command line where ps would show it.
			return writeAtomic(conf, []byte(redisConf(c, dir)), 0o600, uid, gid)
		},
		Command: supervisor.Command{Path: server, User: "redis", Args: []string{conf}},
		Ready:   func(ctx context.Context) error { return redisPing(ctx, c) },
		// SIGTERM makes Redis fsync its append-only file and save before it exits.
		StopSignal: syscall.SIGTERM, StopBudget: 2500 * time.Millisecond,
	}, nil
}

func redisConf(c Config, dir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by nixify-init on every boot; edits are overwritten.\n")
	fmt.Fprintf(&b, "bind %s\nport %d\nprotected-mode no\ndaemonize no\nlogfile \"\"\n", c.Bind, c.RedisPort)
	fmt.Fprintf(&b, "dir %s\nappendonly yes\nappendfsync everysec\n", dir)
	if c.RedisPass != "" {
		fmt.Fprintf(&b, "requirepass \"%s\"\n", c.RedisPass)
	}
	return b.String()
}

// localAddr is where the init reaches a service bound to bind.
func localAddr(bind string, port int) string {
	if bind == "0.0.0.0" || bind == "*" || bind == "" {
		bind = "127.0.0.1"
	}
	return net.JoinHostPort(bind, fmt.Sprint(port))
}

// redisPing authenticates when a password is set and expects PONG; Redis answers an error while
// it is still loading its data, which counts as not ready.
func redisPing(ctx context.Context, c Config) error {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", localAddr(c.Bind, c.RedisPort))
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	send := resp.NewConn(conn).Command
	if c.RedisPass != "" {
		if reply, err := send("AUTH", c.RedisPass); err != nil || reply != "+OK" {
			return fmt.Errorf("redis AUTH failed: %v", firstOf(err, reply))
		}
	}
	reply, err := send("PING")
	if err != nil || reply != "+PONG" {
		return fmt.Errorf("redis PING: %v", firstOf(err, reply))
	}
	return nil
}

func firstOf(err error, reply string) any {
	if err != nil {
		return err
	}
	return reply
}
