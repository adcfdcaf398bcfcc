// Package client implements `nixify psql` and `nixify redis-cli`: a service's own client inside the
// running container, logged in with the service's password (given or generated). The two are one
// command shape; psql.go and rediscli.go only say what differs: the help and the command line.
package client

import (
	"context"
	"fmt"
	"strings"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/spf13/cobra"
)

// Client is one service's client program.
type Client struct {
	Name    string // the command and program: psql, redis-cli
	Service string // the service it logs in to: postgres, redis
	Short   string
	Long    string
	Example string
	Dashed  string // an example with the client's own flags after --, for the hint
	// Spec is its command line from what the container runs, its secrets and the user's arguments.
	Spec shared.ClientSpec
}

// Options is what the client commands need.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)
	Engine func() (engine.Engine, error)
	Client Client
	Args   []string
}

// NewCmd wires the client's command; runF replaces the run function in tests.
func NewCmd(f *cli.Factory, c Client, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine, Client: c}
	cmd := &cobra.Command{
		Use:     fmt.Sprintf("%s [-- %s-ARGS...]", c.Name, strings.ToUpper(c.Name)),
		Short:   c.Short,
		Long:    c.Long,
		Example: c.Example,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			if runF != nil {
				return runF(opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	// `nixify psql -c 'select 1'` is what users type first: the flag is psql's, not nixify's.
	shared.FlagsAfterDashes(cmd, c.Name+"'s own flags", c.Dashed)
	shared.AddContainerFlag(f, cmd)
	return cmd
}

// Run runs the client in the configured container, attached to this terminal or the pipes.
func Run(ctx context.Context, opts *Options) error {
	return shared.RunClient(ctx, opts.IO, opts.Config, opts.Engine, opts.Client.Service, opts.Client.Spec, opts.Args)
}
