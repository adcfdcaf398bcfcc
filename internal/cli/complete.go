package cli

import "github.com/spf13/cobra"

// CompleteValues makes the shell complete a flag (the command's own or a persistent one) with a
// fixed set of values, and no file names.
func CompleteValues(cmd *cobra.Command, flag string, values ...string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	})
}
