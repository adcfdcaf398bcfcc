package resp_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/init/resp"
	"github.com/nixify/nixify/internal/testpeer"
)

// TestAgainstRealRedis speaks to Debian's redis-server with a password.
func TestAgainstRealRedis(t *testing.T) {
	addr := testpeer.StartRedis(t, testpeer.RedisOptions{Password: "pw-123"})
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := resp.NewConn(conn)

	if line, err := c.Command("PING"); err != nil || !strings.HasPrefix(line, "-NOAUTH") {
		t.Fatalf("PING before AUTH: %q %v", line, err)
	}
	if _, err := c.Do("AUTH", "wrong"); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("wrong password: %v", err)
	}
	if v, err := c.Do("AUTH", "pw-123"); err != nil || v != "OK" {
		t.Fatalf("AUTH: %q %v", v, err)
	}
	value := "line one\r\nline two with $3 and *2 inside"
	if v, err := c.Do("SET", "k", value); err != nil || v != "OK" {
		t.Fatalf("SET: %q %v", v, err)
	}
	if v, err := c.Do("GET", "k"); err != nil || v != value {
		t.Fatalf("GET: %q %v", v, err)
	}
	if v, err := c.Do("GET", "missing"); err != nil || v != "" {
		t.Fatalf("GET of a missing key: %q %v", v, err)
	}
	if v, err := c.Do("INCR", "n"); err != nil || v != "1" {
		t.Fatalf("INCR: %q %v", v, err)
	}
	if line, err := c.Command("PING"); err != nil || line != "+PONG" {
		t.Fatalf("PING: %q %v", line, err)
	}
}

// TestHugeBulkIsRefused: Do allocated whatever length a server announced; a reply over MaxBulk is
// now an error (a real Redis holding a 17 MB value announces one).
func TestHugeBulkIsRefused(t *testing.T) {
	addr := testpeer.StartRedis(t, testpeer.RedisOptions{})
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	c := resp.NewConn(conn)
	if v, err := c.Do("SET", "big", strings.Repeat("x", resp.MaxBulk+1)); err != nil || v != "OK" {
		t.Fatalf("SET: %q %v", v, err)
	}
	if _, err := c.Do("GET", "big"); err == nil || !strings.Contains(err.Error(), "over the 16777216 this client takes") {
		t.Fatalf("GET of a value over MaxBulk: %v", err)
	}
}
