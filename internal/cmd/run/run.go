// Package run implements `nixify run`: load the image of the last build (or one given), start the
// container with nixify's labels, ports, volume and environment, and wait until its health server
// says ready. The work itself is shared with `nixify up` (internal/cmd/shared).
package run

import (
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/spf13/cobra"
)

// Options is what `nixify run` needs.
type Options = shared.RunOptions

// NewCmdRun wires the command; runF replaces the run function in tests.
func NewCmdRun(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Start the container from the last build and wait until it is healthy",
		Long: `Load the image of the last build for the architecture (unless the engine holds it already),
start the container with nixify's labels, the health server published on the configured port
(127.0.0.1:8080 by default), the data volume on /data and the environment from --env, then wait
until the health server says ready and print its URL, the health of each service and how to
connect to each published service.

--publish (or the publish key) publishes PostgreSQL, Redis and S3 on the configured bind address,
each on its own port unless NAME=HOSTPORT says otherwise. Every check (the image, each host port,
the data volume not in use by another container) is done before anything is changed, so a
refused --replace leaves the running container alone.

A stopped nixify container of the same image and settings is started again, with its data;
one from another image is replaced only with --replace.

Exit codes: 0 healthy; 1 failed (no build, bad archive, container exists, port or volume taken,
...); 2 bad flag or configuration; 3 started but not healthy within --timeout; 4 the Docker
engine cannot be reached; 130 interrupted.`,
		Example: `  nixify run
  nixify run --publish postgres,redis
  nixify run --publish all,postgres=15432
  nixify run --replace --env POSTGRES_DB=app
  nixify run --arch aarch64
  nixify run --tar ./result --port 9090`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return shared.Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	cli.ArchFlag(cmd, &opts.Arch, "architecture of the image")
	fl.StringVar(&opts.Image, "image", "", "run this image the engine holds (name:tag or ID) instead of the last build")
	fl.StringVar(&opts.Tar, "tar", "", "load and run this docker-archive (plain, gzip or zstd) instead of the last build")
	fl.BoolVar(&opts.Replace, "replace", false, "replace a container of the same name (the data volume is kept)")
	shared.AddRunFlags(f, cmd, opts)
	return cmd
}
