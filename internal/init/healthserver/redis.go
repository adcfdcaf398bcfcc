package healthserver

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nixify/nixify/internal/init/resp"
	"github.com/nixify/nixify/pkg/health"
)

// redisCheck sends PING (after AUTH when a password is set) over a fresh connection. A minimal RESP
// exchange is all a health check needs, and it keeps a Redis client library out of nixify-init.
func redisCheck(t RedisTarget) checker {
	addr := net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	return func(ctx context.Context) []observation {
		start := time.Now()
		status, out := redisPing(ctx, addr, t.Password)
		return []observation{{Status: status, Latency: time.Since(start), Output: out}}
	}
}

func redisPing(ctx context.Context, addr, password string) (health.Status, string) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return health.Fail, describeNetErr(err, addr)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// Closing the connection when ctx ends also unblocks a read from a server that never answers.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	rc := resp.NewConn(conn)
	status := health.Pass
	var warning string
	if password != "" {
		reply, err := rc.Command("AUTH", password)
		if err != nil {
			return health.Fail, describeNetErr(err, addr)
		}
		switch {
		case strings.HasPrefix(reply, "+"):
		case strings.Contains(reply, "without any password configured"):
			status, warning = health.Warn, "REDIS_PASSWORD is set but Redis asks for none"
		case strings.HasPrefix(reply, "-WRONGPASS"), strings.HasPrefix(reply, "-ERR invalid password"):
			return health.Fail, "auth failed: Redis rejected REDIS_PASSWORD"
		default:
			return health.Fail, "auth failed: " + redisError(reply)
		}
	}
	reply, err := rc.Command("PING")
	if err != nil {
		return health.Fail, describeNetErr(err, addr)
	}
	switch {
	case reply == "+PONG":
		return status, warning
	case strings.HasPrefix(reply, "-NOAUTH"):
		return health.Fail, "auth required: Redis asks for a password and REDIS_PASSWORD is empty"
	case strings.HasPrefix(reply, "-LOADING"):
		return health.Fail, "not ready: Redis is loading its dataset"
	case strings.HasPrefix(reply, "-"):
		return health.Fail, "PING failed: " + redisError(reply)
	}
	return health.Fail, fmt.Sprintf("PING answered %q, want PONG: is %s a Redis server?", truncate(reply, 40), addr)
}

// redisError strips the leading "-" of an error reply and keeps it to one short line.
func redisError(reply string) string { return truncate(strings.TrimPrefix(reply, "-"), 120) }

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
