// Package clitest sets up nixify's commands for tests as the root command would, but isolated:
// no terminal, no environment and no configuration file but the test's own.
package clitest

import (
	"testing"

	"github.com/spf13/cobra"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/iostreams"
)

// Factory returns a factory on io with an empty environment, looking for nixify.yaml in a fresh
// temporary directory: a test never reads the developer's NIXIFY_* variables or configuration.
func Factory(t testing.TB, io *iostreams.IOStreams) *cli.Factory {
	return &cli.Factory{IO: io, Getenv: func(string) string { return "" }, WorkDir: t.TempDir()}
}

// Execute runs cmd with args as the root command does: flag errors are usage errors (exit 2), and
// cobra prints nothing of its own.
func Execute(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SetFlagErrorFunc(cli.FlagError)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmd.Execute()
}
