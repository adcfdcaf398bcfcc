// Package rediscli implements `nixify redis-cli`: redis-cli inside the running container,
// authenticated with the Redis password (given or generated).
package rediscli

import (
	"context"
	"strconv"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/spf13/cobra"
)

// Options is what `nixify redis-cli` needs.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)
	Engine func() (engine.Engine, error)
	Args   []string
}

// NewCmdRedisCLI wires the command; runF replaces the run function in tests.
func NewCmdRedisCLI(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "redis-cli [-- REDIS-CLI-ARGS...]",
		Short: "Open redis-cli in the running container, authenticated",
		Long: `Run redis-cli inside the container as the user redis, connected to Redis's port with the
password (given or generated) filled in. Interactive when stdin and stdout are a terminal,
plain otherwise; nixify exits with redis-cli's code. Arguments after -- go to redis-cli.`,
		Example: `  nixify redis-cli
  nixify redis-cli -- ping
  echo 'dbsize' | nixify redis-cli`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			if runF != nil {
				return runF(opts)
			}
			return redisRun(cmd.Context(), opts)
		},
	}
	shared.AddContainerFlag(f, cmd)
	return cmd
}

func redisRun(ctx context.Context, opts *Options) error {
	return shared.RunClient(ctx, opts.IO, opts.Config, opts.Engine, "redis", Spec, opts.Args)
}

// Spec is redis-cli's command line, to where the health check reaches Redis (REDIS_HOST,
// REDIS_PORT); the password travels in REDISCLI_AUTH, never in the
// arguments, so it shows in no process list.
func Spec(in container.Inside, s container.Secrets, args []string) engine.ExecSpec {
	spec := engine.ExecSpec{Cmd: append([]string{"redis-cli", "-h", in.RedisHost, "-p", strconv.Itoa(in.RedisPort)}, args...), User: "redis"}
	if s.RedisPassword != "" {
		spec.Env = []string{"REDISCLI_AUTH=" + s.RedisPassword}
	}
	return spec
}
