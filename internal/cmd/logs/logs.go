// Package logs implements `nixify logs`: the container's output, stdout and stderr kept apart, and
// filtered by the init's service prefix.
package logs

import (
	"context"
	"errors"
	"io"
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
	Service    string
	Timestamps bool
}

// NewCmdLogs wires the command; runF replaces the run function in tests.
func NewCmdLogs(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Show the container's logs, by service",
		Long: `Show the container's logs: the init writes every line with its source's prefix
("postgres | ...", "redis | ...", "garage | ...", "health | ...", "init | ..."); --service keeps
one source's lines. The container's stdout goes to stdout and its stderr to stderr.

With -o json the lines come as JSON Lines on stdout, one object a line as they arrive (also
with -f): {"time", "stream" (stdout or stderr), "service", "message"}.`,
		Example: `  nixify logs --service postgres --tail 50
  nixify logs -f --since 10m`,
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
	fl.StringVarP(&opts.Service, "service", "s", "", "only one source's lines: "+strings.Join(container.Services, ", "))
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
	if o.Service != "" {
		ok := false
		for _, s := range container.Services {
			ok = ok || s == o.Service
		}
		if !ok {
			return cli.Usagef("invalid --service %q: accepted: %s", o.Service, strings.Join(container.Services, ", "))
		}
	}
	return nil
}

func logsRun(ctx context.Context, opts *Options) error {
	l, err := opts.Config()
	if err != nil {
		return err
	}
	eng, err := container.Connect(ctx, opts.Engine)
	if err != nil {
		return err
	}
	defer eng.Close()
	name := l.Config.Container
	lo := container.LogOptions{
		LogOptions: engine.LogOptions{Follow: opts.Follow, Since: opts.Since, Tail: opts.Tail, Timestamps: opts.Timestamps},
		Service:    opts.Service,
	}
	var stdout, stderr io.Writer = opts.IO.Out, opts.IO.ErrOut
	if opts.IO.WantsJSON() {
		// Every line gets its time: the engine's stamp becomes the time field.
		lo.Timestamps = true
		out, errOut := newJSONLines(opts.IO.Out)
		defer out.Flush()
		defer errOut.Flush()
		stdout, stderr = out, errOut
	}
	err = container.Logs(ctx, eng, name, lo, stdout, stderr)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, engine.ErrNotFound):
		return shared.NoContainer(name, "`nixify run` starts one")
	case ctx.Err() != nil && opts.Follow:
		return nil // Ctrl-C ends following; that is how -f is meant to stop
	}
	return cli.Fail(err)
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
