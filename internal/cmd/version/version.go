// Package version implements `nixify version`.
package version

import (
	"cmp"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/version"
	"github.com/spf13/cobra"
)

// Options is what `nixify version` needs.
type Options struct {
	IO *iostreams.IOStreams
}

// NewCmdVersion wires the command; runF replaces the run function in tests.
func NewCmdVersion(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO}
	return &cobra.Command{
		Use:   "version",
		Short: "Print nixify's version, commit, build date and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return versionRun(opts)
		},
	}
}

func versionRun(opts *Options) error {
	v := version.Get()
	if opts.IO.WantsJSON() {
		return opts.IO.WriteJSON(v)
	}
	opts.IO.Printf("nixify %s (commit %s, built %s, %s, %s)\n", v.Version, cmp.Or(v.Commit, "unknown"), cmp.Or(v.Date, "unknown"), v.GoVersion, v.Platform)
	return nil
}
