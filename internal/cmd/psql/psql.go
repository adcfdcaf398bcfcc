// Package psql implements `nixify psql`: PostgreSQL's psql inside the running container, logged in
// as the configured role to the configured database with the password filled in.
package psql

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

// Options is what `nixify psql` needs.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)
	Engine func() (engine.Engine, error)
	Args   []string
}

// NewCmdPsql wires the command; runF replaces the run function in tests.
func NewCmdPsql(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "psql [-- PSQL-ARGS...]",
		Short: "Open psql in the running container, logged in",
		Long: `Run psql inside the container as the user postgres, connected over TCP to the configured
database (POSTGRES_DB) as the configured role (POSTGRES_USER) with its password (given or
generated) filled in. Interactive when stdin and stdout are a terminal, plain otherwise;
nixify exits with psql's code. Arguments after -- go to psql. No pager is set (the image may
hold none): \pset pager turns it on.`,
		Example: `  nixify psql
  nixify psql -- -c 'select version()'
  echo 'select 1' | nixify psql -- -tA`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			if runF != nil {
				return runF(opts)
			}
			return psqlRun(cmd.Context(), opts)
		},
	}
	shared.AddContainerFlag(f, cmd)
	return cmd
}

func psqlRun(ctx context.Context, opts *Options) error {
	return shared.RunClient(ctx, opts.IO, opts.Config, opts.Engine, "postgres", Spec, opts.Args)
}

// Spec is psql's command line: over TCP to where the health check reaches the server (PG_HOST,
// PG_PORT; the unix socket is for the postgres user's peer authentication), the password in the
// environment and never in the arguments, no history file (the service users' homes are not
// writable) and no pager (the image may hold none; an empty PSQL_PAGER turns it off, `\pset
// pager` turns it on).
func Spec(in container.Inside, s container.Secrets, args []string) engine.ExecSpec {
	cmd := append([]string{"psql", "-h", in.PGHost, "-p", strconv.Itoa(in.PGPort), "-U", in.PGUser, "-d", in.PGDB}, args...)
	return engine.ExecSpec{Cmd: cmd, User: "postgres", Env: []string{"PGPASSWORD=" + s.PGPassword, "PSQL_HISTORY=/dev/null", "PSQL_PAGER="}}
}
