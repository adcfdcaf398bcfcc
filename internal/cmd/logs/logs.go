// Package logs implements `nixify logs`: the container's output, stdout and stderr kept apart, and
// filtered by the init's service prefix.
package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/spf13/cobra"
)

// Options is what `nixify logs` needs.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)
	Engine func() (engine.Engine, error)

	Follow     bool
	Since      string
	Tail       string
	Services   []string
	Timestamps bool
}

// NewCmdLogs wires the command; runF replaces the run function in tests.
func NewCmdLogs(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Show the container's logs, by service",
		Long: `Show the container's logs: the init writes every line with its source's prefix
("postgres | ...", "redis | ...", "garage | ...", "health | ...", "init | "), shown aligned and,
on a terminal, coloured by source; --service keeps those sources' lines (--tail then counts
their lines). The container's stdout goes to stdout and its stderr to stderr. -f follows until
Ctrl-C (exit 130) or the container stops.

With -o json the lines come as JSON Lines on stdout, one object a line as they arrive (also
with -f): {"time", "stream" (stdout or stderr), "service", "message"}.`,
		Example: `  nixify logs --service postgres --tail 50
  nixify logs -f --service postgres,redis --tail 3
  nixify logs --since 10m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return logsRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new lines until Ctrl-C or the container stops")
	fl.StringVar(&opts.Since, "since", "", "only lines since a time (RFC 3339 or Unix) or a duration ago (e.g. 10m)")
	fl.StringVarP(&opts.Tail, "tail", "n", "all", "only the last N lines")
	fl.StringSliceVarP(&opts.Services, "service", "s", nil, "only these sources' lines (comma list): "+strings.Join(container.Services, ", "))
	cli.CompleteValues(cmd, "service", container.Services...)
	fl.BoolVarP(&opts.Timestamps, "timestamps", "t", false, "prefix each line with the engine's time stamp")
	shared.AddContainerFlag(f, cmd)
	return cmd
}

func (o *Options) validate() error {
	if o.Tail != "all" {
		if n, err := strconv.Atoi(o.Tail); err != nil || n < 0 {
			return cli.Usagef("invalid --tail %q: accepted: a number of lines, 0 or more, or all", o.Tail)
		}
	}
	if o.Since != "" && !validSince(o.Since) {
		return cli.Usagef("invalid --since %q: accepted: an RFC 3339 time (2024-05-01T10:00:00Z), a Unix time or a duration such as 10m", o.Since)
	}
	for _, s := range o.Services {
		if !slices.Contains(container.Services, s) {
			return cli.Usagef("invalid --service %q: accepted: %s (a comma list)", s, strings.Join(container.Services, ", "))
		}
	}
	return nil
}

func logsRun(ctx context.Context, opts *Options) error {
	cfg, eng, err := shared.Connect(ctx, opts.Config, opts.Engine)
	if err != nil {
		return err
	}
	defer eng.Close()
	name := cfg.Container
	lo := container.LogOptions{
		LogOptions: engine.LogOptions{Follow: opts.Follow, Since: opts.Since, Tail: opts.Tail, Timestamps: opts.Timestamps},
		Services:   opts.Services,
	}
	// Colour when the streams' styles colour (a terminal, no NO_COLOR, no --no-color).
	color := opts.IO.Styles().Accent.Render("x") != "x"
	var stdout, stderr io.Writer = newAligner(opts.IO.Out, color, opts.Services), newAligner(opts.IO.ErrOut, color, opts.Services)
	if opts.IO.WantsJSON() {
		// Every line gets its time: the engine's stamp becomes the time field.
		lo.Timestamps = true
		stdout, stderr = newJSONLines(opts.IO.Out)
	}
	err = container.Logs(ctx, eng, name, lo, stdout, stderr)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, engine.ErrNotFound):
		return shared.NoContainer(name, "`nixify run` starts one")
	case ctx.Err() != nil:
		return ctx.Err() // Ctrl-C: exit 130, as for every command
	}
	return cli.Fail(err)
}

// aligner writes each line (container.Logs writes one per Write) with its source's prefix padded
// to the widest source shown and, on a colour terminal, coloured by source, as compose does.
type aligner struct {
	w     io.Writer
	color bool
	width int
}

func newAligner(w io.Writer, color bool, services []string) *aligner {
	if len(services) == 0 {
		services = container.Services
	}
	width := 0
	for _, s := range services {
		width = max(width, len(s))
	}
	return &aligner{w: w, color: color, width: width}
}

// serviceColor is each source's ANSI colour: red and bold stay for failures.
var serviceColor = map[string]string{"postgres": "34", "redis": "35", "garage": "33", "health": "32", "init": "36"}

func (a *aligner) Write(line []byte) (int, error) {
	stamp, body := "", string(line)
	if t, rest, ok := strings.Cut(body, " "); ok && len(t) >= 20 && t[4] == '-' && t[10] == 'T' {
		stamp, body = t+" ", rest
	}
	svc, msg, ok := strings.Cut(body, " | ")
	if !ok || !slices.Contains(container.Services, svc) {
		return a.w.Write(line)
	}
	prefix := fmt.Sprintf("%-*s |", a.width, svc)
	if a.color {
		prefix = "\x1b[" + serviceColor[svc] + "m" + prefix + "\x1b[0m"
	}
	if _, err := io.WriteString(a.w, stamp+prefix+" "+msg); err != nil {
		return 0, err
	}
	return len(line), nil
}

// validSince accepts what the engine accepts for --since, so that a typo is a usage error here.
func validSince(s string) bool {
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return true
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return true
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}
