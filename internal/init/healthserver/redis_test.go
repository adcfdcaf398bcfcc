package healthserver

import (
	"testing"
	"time"

	"github.com/nixify/nixify/internal/testpeer"
	"github.com/nixify/nixify/pkg/health"
)

func TestRedisCheck(t *testing.T) {
	withPass := testpeer.StartRedisProcess(t, testpeer.RedisOptions{Password: redisPass})
	noPass := testpeer.StartRedis(t, testpeer.RedisOptions{})
	h, p := hostPort(t, withPass.Addr())
	nh, np := hostPort(t, noPass)

	cases := []struct {
		name     string
		target   RedisTarget
		status   health.Status
		contains string
	}{
		{"up with password", RedisTarget{h, p, redisPass}, health.Pass, ""},
		{"up without password", RedisTarget{nh, np, ""}, health.Pass, ""},
		{"wrong password", RedisTarget{h, p, "wrong-Secret-999"}, health.Fail, "auth failed"},
		{"password missing", RedisTarget{h, p, ""}, health.Fail, "auth required"},
		{"password not needed", RedisTarget{nh, np, redisPass}, health.Warn, "asks for none"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obs := run(t, checkerFor(Redis, Config{Redis: c.target}), 5*time.Second)
			wantObs(t, obs[0], c.status, c.contains)
		})
	}

	t.Run("refused", func(t *testing.T) {
		h, p := hostPort(t, testpeer.Refused(t))
		obs := run(t, checkerFor(Redis, Config{Redis: RedisTarget{h, p, redisPass}}), 5*time.Second)
		wantObs(t, obs[0], health.Fail, "connection refused")
	})
	t.Run("hung", func(t *testing.T) {
		h, p := hostPort(t, testpeer.Silent(t))
		obs := run(t, checkerFor(Redis, Config{Redis: RedisTarget{h, p, redisPass}}), 300*time.Millisecond)
		wantObs(t, obs[0], health.Fail, "timeout")
	})
	t.Run("paused", func(t *testing.T) {
		withPass.Pause(t)
		defer withPass.Resume(t)
		obs := run(t, checkerFor(Redis, Config{Redis: RedisTarget{h, p, redisPass}}), 300*time.Millisecond)
		wantObs(t, obs[0], health.Fail, "timeout")
	})
}
