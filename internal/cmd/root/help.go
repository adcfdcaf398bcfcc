package root

import (
	"os"
	"strings"
	"text/template"

	"github.com/nixify/nixify/internal/iostreams"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// Help fits the terminal it is shown on: the texts are written as paragraphs and reflowed to its
// width (a text hard-wrapped at 95 columns splits words on an 80-column terminal), flag
// descriptions wrap under themselves, and examples stay one command a line.

func init() {
	cobra.AddTemplateFuncs(template.FuncMap{
		"helpWidth": helpWidth,
		"reflow":    iostreams.Reflow,
		"flagUsages": func(fs *pflag.FlagSet, width int) string {
			return strings.TrimRight(fs.FlagUsagesWrapped(width), " \n")
		},
		"commandLine": func(c *cobra.Command, width int) string {
			return iostreams.WrapAfter("  "+pad(c.Name(), c.NamePadding())+" ", c.Short, width)
		},
	})
}

// maxHelpWidth keeps lines of prose readable on a wide terminal.
const maxHelpWidth = 100

// helpWidth is the width help is wrapped to: the terminal's, at most maxHelpWidth, and 80 when
// help goes to a file or a pipe.
func helpWidth(c *cobra.Command) int {
	if f, ok := c.OutOrStdout().(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			// One column stays free: a line that fills the last one makes some terminals wrap.
			return min(cols-1, maxHelpWidth)
		}
	}
	return 80
}

func pad(s string, n int) string { return s + strings.Repeat(" ", max(n-len(s), 0)) }

const helpTemplate = `{{with (or .Long .Short)}}{{reflow . (helpWidth $)}}

{{end}}{{if or .Runnable .HasSubCommands}}{{.UsageString}}{{end}}`

// usageTemplate is cobra's own, with the texts wrapped.
const usageTemplate = `{{$w := helpWidth .}}Usage:{{if .Runnable}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [command]{{end}}{{if gt (len .Aliases) 0}}

Aliases:
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}{{$cmds := .Commands}}{{if eq (len .Groups) 0}}

Available Commands:{{range $cmds}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
{{commandLine . $w}}{{end}}{{end}}{{else}}{{range $group := .Groups}}

{{.Title}}{{range $cmds}}{{if (and (eq .GroupID $group.ID) (or .IsAvailableCommand (eq .Name "help")))}}
{{commandLine . $w}}{{end}}{{end}}{{end}}{{if not .AllChildCommandsHaveGroup}}

Additional Commands:{{range $cmds}}{{if (and (eq .GroupID "") (or .IsAvailableCommand (eq .Name "help")))}}
{{commandLine . $w}}{{end}}{{end}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{flagUsages .LocalFlags $w}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{flagUsages .InheritedFlags $w}}{{end}}{{if .HasHelpSubCommands}}

Additional help topics:{{range .Commands}}{{if .IsAdditionalHelpTopicCommand}}
  {{rpad .CommandPath .CommandPathPadding}} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} [command] --help" for more information about a command.{{end}}
`
