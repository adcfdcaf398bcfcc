package healthserver

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/pkg/health"
)

// Secrets used by the tests; every check output is asserted not to contain any of them.
const (
	redisPass  = "redis-Secret-4711"
	pgPass     = "pg-Secret-0815"
	s3Access   = "GK0123456789abcdef01234567"
	s3Secret   = "s3-Secret-0123456789abcdef0123456789abcdef"
	adminToken = "admin-Token-42"
)

var allSecrets = []string{redisPass, pgPass, s3Secret, adminToken, "wrong-Secret-999"}

func hostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(strings.TrimPrefix(addr, "http://"))
	if err != nil {
		t.Fatalf("split %q: %v", addr, err)
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

// run runs one check with the given timeout and asserts that its output holds no secret.
func run(t *testing.T, c checker, timeout time.Duration) []observation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	obs := c(ctx)
	for _, o := range obs {
		for _, s := range allSecrets {
			if strings.Contains(o.Output, s) {
				t.Fatalf("output %q contains a secret", o.Output)
			}
		}
		if strings.Contains(o.Output, "\n") {
			t.Fatalf("output %q is more than one line", o.Output)
		}
	}
	return obs
}

func wantObs(t *testing.T, obs observation, status health.Status, contains string) {
	t.Helper()
	if obs.Status != status || !strings.Contains(obs.Output, contains) {
		t.Fatalf("got status %s output %q, want %s with %q", obs.Status, obs.Output, status, contains)
	}
}
