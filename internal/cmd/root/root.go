// Package root assembles the nixify command tree and turns its outcome into one line for the user
// and an exit code.
package root

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/nixify/nixify/internal/cli"
	backupcmd "github.com/nixify/nixify/internal/cmd/backup"
	buildcmd "github.com/nixify/nixify/internal/cmd/build"
	cleancmd "github.com/nixify/nixify/internal/cmd/clean"
	clientcmd "github.com/nixify/nixify/internal/cmd/client"
	configcmd "github.com/nixify/nixify/internal/cmd/configcmd"
	deploycmd "github.com/nixify/nixify/internal/cmd/deploy"
	doctorcmd "github.com/nixify/nixify/internal/cmd/doctor"
	envcmd "github.com/nixify/nixify/internal/cmd/env"
	execcmd "github.com/nixify/nixify/internal/cmd/exec"
	healthcmd "github.com/nixify/nixify/internal/cmd/health"
	infocmd "github.com/nixify/nixify/internal/cmd/info"
	logscmd "github.com/nixify/nixify/internal/cmd/logs"
	pushcmd "github.com/nixify/nixify/internal/cmd/push"
	restorecmd "github.com/nixify/nixify/internal/cmd/restore"
	runcmd "github.com/nixify/nixify/internal/cmd/run"
	sbomcmd "github.com/nixify/nixify/internal/cmd/sbom"
	startcmd "github.com/nixify/nixify/internal/cmd/start"
	statuscmd "github.com/nixify/nixify/internal/cmd/status"
	stopcmd "github.com/nixify/nixify/internal/cmd/stop"
	upcmd "github.com/nixify/nixify/internal/cmd/up"
	versioncmd "github.com/nixify/nixify/internal/cmd/version"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/spf13/cobra"
)

// NewCmdRoot returns the root command with its global flags and every subcommand.
func NewCmdRoot(f *cli.Factory) *cobra.Command {
	var output string
	var noColor bool
	cmd := &cobra.Command{
		Use:   "nixify",
		Short: "Build, run, check and ship a self-contained service image defined in Nix",
		Long: `nixify builds a Nix-defined container image (PostgreSQL, Redis, Garage and a health
server under the nixify-init supervisor) for x86_64 and aarch64, runs it on the Docker engine,
checks its health and pushes multi-arch images to a registry.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch output {
			case "text":
				f.IO.Format = iostreams.Text
			case "json":
				f.IO.Format = iostreams.JSON
			case "yaml":
				if cmd.Annotations[cli.YAMLOutput] == "" {
					return cli.Usagef("invalid --output %q: accepted: text, json (yaml only with deploy --dry-run)", output)
				}
				f.IO.Format = iostreams.YAML
			default:
				return cli.Usagef("invalid --output %q: accepted: text, json (yaml: deploy --dry-run)", output)
			}
			if noColor {
				f.IO.DisableColor()
			}
			return nil
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.ConfigFile, "config", "", "config file (default ./nixify.yaml, then the user config dir)")
	pf.StringVarP(&output, "output", "o", "text", "output format: text or json (yaml: deploy --dry-run)")
	cli.CompleteValues(cmd, "output", "text", "json")
	pf.BoolVar(&noColor, "no-color", false, "disable colours and styling (also NO_COLOR=1)")
	pf.BoolVarP(&f.IO.Verbose, "verbose", "v", false, "show more detail, e.g. every build log line")

	cmd.SetHelpTemplate(helpTemplate)
	cmd.SetUsageTemplate(usageTemplate)
	cmd.SetFlagErrorFunc(cli.FlagError)
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)

	cmd.AddGroup(&cobra.Group{ID: "image", Title: "Image commands:"}, &cobra.Group{ID: "setup", Title: "Setup commands:"})
	for _, c := range []*cobra.Command{
		doctorcmd.NewCmdDoctor(f, nil),
		configcmd.NewCmdConfig(f, nil),
		versioncmd.NewCmdVersion(f, nil),
	} {
		c.GroupID = "setup"
		cmd.AddCommand(c)
	}
	for _, c := range imageCommands(f) {
		c.GroupID = "image"
		cmd.AddCommand(c)
	}
	cmd.SetHelpCommand(newCmdHelp())
	cmd.SetCompletionCommandGroupID("setup")
	// cobra's completion command shows its help, exit 0, for a shell it does not know.
	cmd.InitDefaultCompletionCmd()
	for _, c := range cmd.Commands() {
		if c.Name() == "completion" {
			c.Args = cobra.NoArgs
			c.RunE = func(c *cobra.Command, args []string) error { return c.Help() }
		}
	}
	return cmd
}

// newCmdHelp is cobra's help command, but a topic it does not know is a usage error (one line,
// exit 2), not "Unknown help topic" and the whole usage with exit 0.
func newCmdHelp() *cobra.Command {
	return &cobra.Command{
		Use:     "help [command]",
		Short:   "Help about any command",
		GroupID: "setup",
		RunE: func(c *cobra.Command, args []string) error {
			target, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("no help topic %q", strings.Join(args, " ")),
					Hint: "`nixify --help` lists the commands"}
			}
			target.InitDefaultHelpFlag()
			return target.Help()
		},
	}
}

// imageCommands are the commands of an image's life, in the order help lists them.
func imageCommands(f *cli.Factory) []*cobra.Command {
	return []*cobra.Command{
		// Each command adds its constructor here, one line each.
		buildcmd.NewCmdBuild(f, nil),
		upcmd.NewCmdUp(f, buildcmd.Step(f), nil),
		runcmd.NewCmdRun(f, nil),
		healthcmd.NewCmdHealth(f, nil),
		logscmd.NewCmdLogs(f, nil),
		stopcmd.NewCmdStop(f, nil),
		startcmd.NewCmdStart(f, nil),
		startcmd.NewCmdRestart(f, nil),
		statuscmd.NewCmdStatus(f, nil),
		envcmd.NewCmdEnv(f, nil),
		clientcmd.NewCmd(f, clientcmd.Psql, nil),
		clientcmd.NewCmd(f, clientcmd.RedisCLI, nil),
		execcmd.NewCmdShell(f, nil),
		execcmd.NewCmdExec(f, nil),
		backupcmd.NewCmdBackup(f, nil), restorecmd.NewCmdRestore(f, nil),
		cleancmd.NewCmdClean(f, nil),
		infocmd.NewCmdInfo(f, nil),
		pushcmd.NewCmdPush(f, nil),
		deploycmd.NewCmdDeploy(f, nil),
		sbomcmd.NewCmdSBOM(f, nil),
	}
}

// Main runs nixify with args and returns the exit code. Ctrl-C cancels the context; commands stop
// their children and return, and Main reports exit code 130.
func Main(f *cli.Factory, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := NewCmdRoot(f)
	cmd.SetArgs(args)
	failed, err := cmd.ExecuteContextC(ctx)
	if err == nil {
		return cli.ExitOK
	}
	if ctx.Err() != nil && !errors.As(err, new(*cli.ExitError)) {
		err = &cli.ExitError{Code: cli.ExitInterrupted, Err: errors.New("interrupted")}
	}
	if isCobraUsage(err) {
		err = cobraUsage(err, failed)
	}
	if !cli.IsSilent(err) {
		st := f.IO.Styles()
		// One line each in a log; on a terminal wrapped between words, not by the terminal.
		fmt.Fprintln(f.IO.ErrOut, f.IO.WrapErr(st.Fail.Render("nixify:")+" ", err.Error()))
		if h := cli.Hint(err); h != "" {
			fmt.Fprintln(f.IO.ErrOut, f.IO.WrapErr(st.Faint.Render("hint:")+" ", h))
		}
	}
	return cli.Code(err)
}

// cobraUsage turns one of cobra's own usage errors into one line and a hint naming the command's
// help: cobra spreads its typo suggestion ("Did you mean this?") over four lines and counts
// arguments as "arg(s)".
func cobraUsage(err error, failed *cobra.Command) error {
	first, rest, _ := strings.Cut(err.Error(), "\n")
	first = strings.TrimSuffix(first, ` for "nixify"`)
	if _, suggested, ok := strings.Cut(rest, "Did you mean this?"); ok {
		if names := strings.Fields(suggested); len(names) > 0 {
			first += ": did you mean " + strings.Join(names, " or ") + "?"
		}
	}
	path := "nixify"
	if failed != nil {
		path = failed.CommandPath()
	}
	name := strings.TrimPrefix(path, "nixify ") // the line already starts with "nixify:"
	hint := "see `" + path + " --help`"
	if m := argCountRE.FindStringSubmatch(first); m != nil {
		first = name + " takes " + argsWanted(m[1:6]) + ", not " + m[6]
	} else if m := unknownRE.FindStringSubmatch(first); m != nil && failed != nil && !failed.HasSubCommands() {
		// cobra.NoArgs calls an argument an unknown command, as if there were commands to choose.
		first = name + " takes no arguments, not " + m[1]
	} else if strings.HasPrefix(first, "unknown command") {
		hint = "`" + path + " --help` lists the commands"
	}
	return &cli.ExitError{Code: cli.ExitUsage, Err: errors.New(first), Hint: hint}
}

// argCountRE matches cobra's argument-count errors: ExactArgs, MinimumNArgs, MaximumNArgs,
// RangeArgs.
var argCountRE = regexp.MustCompile(`^(?:accepts (\d+)|requires at least (\d+)|accepts at most (\d+)|accepts between (\d+) and (\d+)) arg\(s\), (?:only )?received (\d+)$`)

// unknownRE is cobra's "unknown command" error, which cobra.NoArgs returns for any argument.
var unknownRE = regexp.MustCompile(`^unknown command (".*") for "`)

// argsWanted says what argCountRE's groups ask for.
func argsWanted(g []string) string { // exact, at least, at most, between A and B
	n := func(s string) string {
		v, _ := strconv.Atoi(s)
		return iostreams.Count(v, "argument", "arguments")
	}
	switch {
	case g[0] != "":
		return n(g[0])
	case g[1] != "":
		return "at least " + n(g[1])
	case g[2] != "":
		return "at most " + n(g[2])
	}
	return "between " + g[3] + " and " + n(g[4])
}

// isCobraUsage recognises cobra's own argument errors, which it does not type.
func isCobraUsage(err error) bool {
	if errors.As(err, new(*cli.ExitError)) {
		return false
	}
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "received ", "invalid argument", "unknown flag", "unknown shorthand"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, " "+p) {
			return true
		}
	}
	return false
}
