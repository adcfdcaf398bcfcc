// Package resp speaks the little of Redis's protocol (RESP2) that nixify needs: one command at a
// time, one reply back. The init's readiness probe, the health check and the tests share it, and it
// keeps a Redis client library out of nixify-init.
package resp

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
)

// MaxBulk bounds a bulk reply Do reads: the init asks for INFO sections and the tests for small
// values, and a server that announces gigabytes must not make PID 1 allocate them.
const MaxBulk = 16 << 20

// Conn is a connection to a Redis server. Deadlines are the caller's, on the net.Conn it wraps.
type Conn struct {
	c net.Conn
	r *bufio.Reader
}

// NewConn wraps an open connection.
func NewConn(c net.Conn) *Conn { return &Conn{c: c, r: bufio.NewReader(c)} }

// Command sends args as a RESP array and returns the first line of the reply without its CRLF:
// "+PONG", "-WRONGPASS ...", ":1", "$5". Callers that judge the reply's kind themselves use this.
func (c *Conn) Command(args ...string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c.c, b.String()); err != nil {
		return "", err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// Do is Command with the reply decoded: an error reply becomes an error, a bulk string its body
// ("" for nil), a simple string or integer its text.
func (c *Conn) Do(args ...string) (string, error) {
	line, err := c.Command(args...)
	if err != nil {
		return "", err
	}
	switch {
	case strings.HasPrefix(line, "-"):
		return "", fmt.Errorf("redis: %s", line[1:])
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("redis: bad bulk length %q", line)
		}
		if n < 0 {
			return "", nil
		}
		if n > MaxBulk {
			return "", fmt.Errorf("redis: a reply of %d bytes, over the %d this client takes", n, MaxBulk)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return line[min(1, len(line)):], nil // "+OK" -> "OK", ":1" -> "1"
}
