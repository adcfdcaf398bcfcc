package service

import (
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/initenv"
)

// TestRedisConfHoldsAnyPassword: a backslash broke Redis's quoted value and a newline could add a
// directive (issue 11); every byte now stays inside the one requirepass line.
func TestRedisConfHoldsAnyPassword(t *testing.T) {
	c := initenv.Config{Bind: "127.0.0.1", RedisPort: 6379}
	conf := redisConf(c, "/data/redis", "a\\b\"c d\nenable-debug-command yes\x01é")
	lines := strings.Split(strings.TrimSpace(conf), "\n")
	last := lines[len(lines)-1]
	if want := `requirepass "a\\b\"c d\x0aenable-debug-command yes\x01\xc3\xa9"`; last != want {
		t.Fatalf("requirepass line %s, want %s", last, want)
	}
	if strings.Count(conf, "enable-debug-command") != 1 || !strings.Contains(conf, "protected-mode yes") {
		t.Fatalf("conf:\n%s", conf)
	}
}
