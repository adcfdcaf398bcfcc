package service

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nixify/nixify/internal/init/resp"
	"github.com/nixify/nixify/internal/init/supervisor"
	"github.com/nixify/nixify/internal/initenv"
)

func redis(c initenv.Config, sec *Secrets) (supervisor.Service, error) {
	server, err := program("redis-server")
	if err != nil {
		return supervisor.Service{}, err
	}
	dir := filepath.Join(c.DataDir, "redis")
	conf := filepath.Join(dir, "redis.conf")
	return supervisor.Service{
		Name: initenv.Redis, User: "redis", DataDir: dir, DataMode: 0o700,
		Prepare: func(context.Context, supervisor.Runner) error {
			uid, gid, err := supervisor.Owner("redis")
			if err != nil {
				return err
			}
			if err := removeRedisTemps(dir); err != nil {
				return err
			}
			// The password goes in this 0600 file, not on the command line where ps would show it.
			return writeGenerated(conf, []byte(redisConf(c, dir, sec.RedisPassword)), uid, gid)
		},
		Command: supervisor.Command{Path: server, User: "redis", Args: []string{conf}},
		Ready:   func(ctx context.Context) error { return redisPing(ctx, c, sec.RedisPassword) },
		// SIGTERM makes Redis fsync its append-only file and exit: with no save points (redisConf)
		// it writes no RDB, so what it must flush is at most a second of writes (everysec),
		// whatever the dataset's size.
		StopSignal: syscall.SIGTERM, StopBudget: 2500 * time.Millisecond,
	}, nil
}

// redisConf is the whole configuration. A password is always required (the init generates one when
// none is given), so a sibling container cannot reach CONFIG SET. Bind and dir were checked by
// package initenv to hold no blank, quote or newline.
func redisConf(c initenv.Config, dir, password string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by nixify-init on every boot; edits are overwritten.\n")
	fmt.Fprintf(&b, "bind %s\nport %d\nprotected-mode yes\ndaemonize no\nlogfile \"\"\n", c.Bind, c.RedisPort)
	// The append-only file is the dataset's one durable copy; RDB save points would add a full
	// snapshot at every shutdown (seconds for a few GB, past the stop budget: SIGKILL and a temp
	// RDB left behind), which the AOF makes redundant.
	fmt.Fprintf(&b, "dir %s\nappendonly yes\nappendfsync everysec\nsave \"\"\n", dir)
	fmt.Fprintf(&b, "requirepass %s\n", redisQuote(password))
	return b.String()
}

// redisQuote writes s as a double-quoted value of redis.conf, which Redis reads with its own
// argument splitter: backslash and quote are escaped, and every byte outside printable ASCII is
// written as \xHH, so any password reaches Redis unchanged and no value can end the line.
func redisQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '\\' || ch == '"':
			b.WriteByte('\\')
			b.WriteByte(ch)
		case ch < 0x20 || ch > 0x7e:
			fmt.Fprintf(&b, "\\x%02x", ch)
		default:
			b.WriteByte(ch)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// redisTemp matches what a Redis killed mid-write leaves in its directory: temp-PID.rdb (a
// snapshot being written) and temp-rewriteaof-[bg-]PID.aof (an AOF rewrite).
var redisTemp = regexp.MustCompile(`^temp-([0-9]+\.rdb|rewriteaof-(bg-)?[0-9]+\.aof)$`)

// removeRedisTemps deletes Redis's own leftovers (redisTemp) from its directory, and nothing
// else: Redis never reads them back, and each can be as large as the dataset.
func removeRedisTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil // a first boot: nothing there yet
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !redisTemp.MatchString(e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("remove Redis's leftover %s: %w", filepath.Join(dir, e.Name()), unwrapPath(err))
		}
	}
	return nil
}

// localAddr is where the init reaches a service bound to bind.
func localAddr(bind string, port int) string {
	if bind == "0.0.0.0" || bind == "*" || bind == "" {
		bind = "127.0.0.1"
	}
	return net.JoinHostPort(bind, fmt.Sprint(port))
}

// redisPing authenticates and expects PONG. While Redis loads its dataset it answers -LOADING:
// that is progress, reported with how far the load is (INFO persistence), so the supervisor waits
// as long as the load advances.
func redisPing(ctx context.Context, c initenv.Config, password string) error {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", localAddr(c.Bind, c.RedisPort))
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	rc := resp.NewConn(conn)
	if reply, err := rc.Command("AUTH", password); err != nil || reply != "+OK" {
		return fmt.Errorf("redis AUTH failed: %v", firstOf(err, reply))
	}
	reply, err := rc.Command("PING")
	if err == nil && strings.HasPrefix(reply, "-LOADING") {
		return redisLoading(rc)
	}
	if err != nil || reply != "+PONG" {
		return fmt.Errorf("redis PING: %v", firstOf(err, reply))
	}
	return nil
}

// redisLoading reads how far a loading Redis is: INFO persistence's loading_loaded_perc for the
// health output, loading_loaded_bytes as the mark of progress.
func redisLoading(rc *resp.Conn) error {
	info, err := rc.Do("INFO", "persistence")
	if err != nil {
		return fmt.Errorf("redis is loading its dataset; INFO: %w", err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	if fields["loading"] != "1" {
		return errors.New("redis answered LOADING but has finished loading")
	}
	perc, _ := strconv.ParseFloat(fields["loading_loaded_perc"], 64)
	loaded, _ := strconv.ParseInt(fields["loading_loaded_bytes"], 10, 64)
	return supervisor.Progress(fmt.Sprintf("loading dataset %.0f%% (%d MB of %s MB)", perc, loaded>>20, mb(fields["loading_total_bytes"])), loaded)
}

func mb(bytes string) string {
	n, err := strconv.ParseInt(bytes, 10, 64)
	if err != nil {
		return "?"
	}
	return strconv.FormatInt(n>>20, 10)
}

func firstOf(err error, reply string) any {
	if err != nil {
		return err
	}
	return reply
}
