package client

import (
	"strconv"

	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
)

// RedisCLI is redis-cli, authenticated with the Redis password.
var RedisCLI = Client{
	Name: "redis-cli", Service: "redis",
	Short: "Open redis-cli in the running container, authenticated",
	Long: `Run redis-cli inside the container as the user redis, connected to Redis's port with the
password (given or generated) filled in. Interactive when stdin and stdout are a terminal,
plain otherwise; nixify exits with redis-cli's code. Arguments after -- go to redis-cli.`,
	Example: `  nixify redis-cli
  nixify redis-cli -- ping
  echo 'dbsize' | nixify redis-cli`,
	Dashed: "nixify redis-cli -- -n 1 ping",
	Spec:   redisSpec,
}

// redisSpec is redis-cli's command line, to where the health check reaches Redis (REDIS_HOST,
// REDIS_PORT); the password travels in REDISCLI_AUTH, never in the arguments, so it shows in no
// process list.
func redisSpec(in container.Inside, s container.Secrets, args []string) engine.ExecSpec {
	spec := engine.ExecSpec{Cmd: append([]string{"redis-cli", "-h", in.RedisHost, "-p", strconv.Itoa(in.RedisPort)}, args...), User: "redis"}
	if s.RedisPassword != "" {
		spec.Env = []string{"REDISCLI_AUTH=" + s.RedisPassword}
	}
	return spec
}
