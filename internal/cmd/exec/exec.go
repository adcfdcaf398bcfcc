// Package exec implements `nixify exec` and `nixify shell`: run a command, or busybox's shell, in
// the running container, attached to this terminal (or to the pipe).
package exec

import (
	"context"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/spf13/cobra"
)

// Options is what `nixify exec` and `nixify shell` need.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)
	Engine func() (engine.Engine, error)

	User string
	Cmd  []string
}

// Inside is what the image holds to run, said in both commands' help.
const Inside = `The image holds busybox (sh, ls, cat, ps, kill, ...), nixify-init, PostgreSQL's programs
(psql, pg_dump, ...) and redis-cli; services run as the users postgres, redis and garage, and
their data is under /data.`

// NewCmdExec wires `nixify exec`; runF replaces the run function in tests.
func NewCmdExec(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "exec [--user USER] -- COMMAND [ARG...]",
		Short: "Run a command in the running container",
		Long: `Run a command in the running container as root (or --user), attached to this terminal
when stdin and stdout are one (with resizes), to the pipes otherwise. nixify exits with the command's code.

` + Inside,
		Example: `  nixify exec -- ls -l /data
  nixify exec --user postgres -- pg_dump -h /run/postgresql app > app.sql`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Cmd = args
			if runF != nil {
				return runF(opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.User, "user", "u", "", "user (name or uid) to run as (default root)")
	shared.AddContainerFlag(f, cmd)
	return cmd
}

// NewCmdShell wires `nixify shell`; runF replaces the run function in tests.
func NewCmdShell(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine, Cmd: []string{"/bin/sh"}}
	cmd := &cobra.Command{
		Use:   "shell",
		Short: "Open a shell in the running container",
		Long: `Open busybox's sh in the running container as root (or --user). ` + "`exit`" + ` leaves it.

` + Inside,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.User, "user", "u", "", "user (name or uid) to run as (default root)")
	shared.AddContainerFlag(f, cmd)
	return cmd
}

// Run runs opts.Cmd in the configured container.
func Run(ctx context.Context, opts *Options) error {
	x, err := shared.FindRunning(ctx, opts.Config, opts.Engine)
	if err != nil {
		return err
	}
	defer x.Close()
	return shared.Attach(ctx, opts.IO, x.Engine, x.Container.ID, engine.ExecSpec{Cmd: opts.Cmd, User: opts.User})
}
