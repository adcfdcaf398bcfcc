// Package exec implements `nixify exec` and `nixify shell`: run a command, or busybox's shell, in
// the running container, attached to this terminal (or to the pipe).
package exec

import (
	"context"
	"errors"
	"path"
	"strings"

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
	Env  []string // KEY=VALUE, added to the container's environment
	Dir  string   // working directory
	Cmd  []string
}

// Inside is what the image holds to run, said in both commands' help.
const Inside = `The image holds busybox (sh, ls, cat, ps, kill, ...), nixify-init, PostgreSQL's programs
(psql, pg_dump, ...) and redis-cli; services run as the users postgres, redis and garage, and
their data is under /data.`

// NewCmdExec wires `nixify exec`; runF replaces the run function in tests.
func NewCmdExec(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "exec [-u USER] [-e KEY=VALUE] [-w DIR] -- COMMAND [ARG...]",
		Short: "Run a command in the running container",
		Long: `Run a command in the running container as root (or --user), attached to this terminal
when stdin and stdout are one (with resizes), to the pipes otherwise. nixify exits with the
command's code; 127 when there is no such program, 126 when it cannot run (as a shell does).

` + Inside,
		Example: `  nixify exec -- ls -l /data
  nixify exec -w /data -e LC_ALL=C -- du -sh postgres redis
  nixify exec --user postgres -- pg_dump -h /run/postgresql app > app.sql`,
	}
	return wire(f, cmd, nil, runF)
}

// NewCmdShell wires `nixify shell`; runF replaces the run function in tests.
func NewCmdShell(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "shell",
		Short: "Open a shell in the running container",
		Long: `Open busybox's sh in the running container as root (or --user). ` + "`exit`" + ` leaves it.

` + Inside,
		Args: cobra.NoArgs,
	}
	return wire(f, cmd, []string{"/bin/sh"}, runF)
}

// wire gives exec and shell their one RunE and their common flags; fixed is shell's command (nil:
// exec's, from the arguments).
func wire(f *cli.Factory, cmd *cobra.Command, fixed []string, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine, Cmd: fixed}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if fixed == nil {
			if len(args) == 0 {
				return &cli.ExitError{Code: cli.ExitUsage, Err: errNoCommand, Hint: "for example: nixify exec -- ls -l /data (or nixify shell)"}
			}
			opts.Cmd = args
		}
		if opts.Dir != "" && !path.IsAbs(opts.Dir) {
			return cli.Usagef("invalid --workdir %q: accepted: an absolute path in the container, e.g. /data", opts.Dir)
		}
		for _, kv := range opts.Env {
			if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
				return cli.Usagef("invalid --env %q: accepted: KEY=VALUE", kv)
			}
		}
		if runF != nil {
			return runF(opts)
		}
		return Run(cmd.Context(), opts)
	}
	if fixed == nil {
		// `nixify exec ls -l` hands -l to nixify: the command's own flags go after --.
		shared.FlagsAfterDashes(cmd, "the command and its flags", "nixify exec -- ls -l /data")
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.User, "user", "u", "", "user (name or uid) to run as (default root)")
	fl.StringArrayVarP(&opts.Env, "env", "e", nil, "set an environment variable, KEY=VALUE (repeatable)")
	fl.StringVarP(&opts.Dir, "workdir", "w", "", "working directory inside the container")
	shared.AddContainerFlag(f, cmd)
	return cmd
}

var errNoCommand = errors.New("no command to run")

// Run runs opts.Cmd in the configured container.
func Run(ctx context.Context, opts *Options) error {
	x, err := shared.FindRunning(ctx, opts.Config, opts.Engine)
	if err != nil {
		return err
	}
	defer x.Close()
	return shared.Attach(ctx, opts.IO, x.Engine, x.Container.ID, engine.ExecSpec{Cmd: opts.Cmd, User: opts.User, Env: opts.Env, Dir: opts.Dir})
}
