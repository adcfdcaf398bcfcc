// Package run implements `nixify run`: load the image of the last build (or one given), start the
// container with nixify's labels, port, volume and environment, and wait until its health server
// says ready.
package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/nixify/nixify/internal/cli"
	healthcmd "github.com/nixify/nixify/internal/cmd/health"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/record"
	"github.com/nixify/nixify/internal/version"
	"github.com/nixify/nixify/pkg/health"
	"github.com/spf13/cobra"
)

// Options is what `nixify run` needs.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)
	Engine func() (engine.Engine, error)

	Arch        string // empty: this machine's
	Image       string // an image the engine holds
	Tar         string // a docker-archive file
	Env         []string
	Replace     bool
	ReplaceOwn  bool // replace only nixify's own container (up)
	Timeout     time.Duration
	StopTimeout time.Duration
}

// NewCmdRun wires the command; runF replaces the run function in tests.
func NewCmdRun(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Start the container from the last build and wait until it is healthy",
		Long: `Load the image of the last build for the architecture (unless the engine holds it already),
start the container with nixify's labels, the health server published on the configured port
(127.0.0.1:8080 by default), the data volume on /data and the environment from --env, then wait
until the health server says ready and print its URL and the health of each service.

Exit codes: 0 healthy; 1 failed (no build, bad archive, container exists, port taken, ...);
3 started but not healthy within --timeout; 4 the Docker engine cannot be reached.`,
		Example: `  nixify run
  nixify run --replace --env POSTGRES_PASSWORD=secret
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
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Arch, "arch", "", "architecture of the image: x86_64 or aarch64 (default: this machine's)")
	fl.StringVar(&opts.Image, "image", "", "run this image the engine holds (name:tag or ID) instead of the last build")
	fl.StringVar(&opts.Tar, "tar", "", "load and run this docker-archive (plain, gzip or zstd) instead of the last build")
	fl.BoolVar(&opts.Replace, "replace", false, "replace a container of the same name")
	AddStartFlags(cmd, opts)
	AddContainerFlags(f, cmd)
	return cmd
}

// AddStartFlags adds the flags of how the container is started and awaited (shared with up).
func AddStartFlags(cmd *cobra.Command, opts *Options) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&opts.Env, "env", "e", nil, "set an environment variable in the container, KEY=VALUE (repeatable)")
	fl.DurationVar(&opts.Timeout, "timeout", 2*time.Minute, "how long to wait for the container to be healthy")
	fl.DurationVar(&opts.StopTimeout, "stop-timeout", 10*time.Second, "how long the engine waits for the ordered shutdown before it kills the container")
}

// AddContainerFlags adds the flags that override the configuration of the container (shared with up).
func AddContainerFlags(f *cli.Factory, cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.Int("port", 0, "host port for the health server (default 8080)")
	fl.String("bind", "", "host address the port is published on (default 127.0.0.1)")
	fl.String("container", "", "container name")
	fl.String("volume", "", "named volume for /data")
	for _, k := range []string{"port", "bind", "container", "volume"} {
		f.BindFlag(k, fl.Lookup(k))
	}
}

// Validate checks the flags before anything runs.
func (o *Options) Validate() error {
	if o.Arch != "" {
		a, err := config.ParseArch(o.Arch)
		if err != nil {
			return cli.Usagef("invalid --arch %q: %v", o.Arch, err)
		}
		o.Arch = a
	}
	if o.Image != "" && o.Tar != "" {
		return cli.Usagef("--image and --tar both name an image: give one")
	}
	for _, kv := range o.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return cli.Usagef("invalid --env %q: accepted: KEY=VALUE", redact(kv))
		}
	}
	if o.Timeout <= 0 {
		return cli.Usagef("invalid --timeout %s: accepted: a positive duration, e.g. 2m", o.Timeout)
	}
	if o.StopTimeout < time.Second {
		return cli.Usagef("invalid --stop-timeout %s: accepted: 1s or more", o.StopTimeout)
	}
	return nil
}

// mergeEnv returns the configuration's environment overridden by --env, one item per key: a
// process reading its environment sees the first of duplicates, not the last.
func mergeEnv(base, over []string) []string {
	var out []string
	index := map[string]int{}
	for _, kv := range append(slices.Clone(base), over...) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			out[i] = kv
			continue
		}
		index[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// redact keeps a malformed --env value out of messages when it may hold a secret.
func redact(kv string) string {
	if len(kv) > 24 {
		return kv[:8] + "..."
	}
	return kv
}

// HostArch is this machine's architecture in Nix's spelling.
func HostArch() string {
	if runtime.GOARCH == "arm64" {
		return "aarch64"
	}
	return "x86_64"
}

// Result is what run reports.
type Result struct {
	Container string           `json:"container"`
	ID        string           `json:"id"`
	Image     container.Loaded `json:"image"`
	URL       string           `json:"url"`
	Took      time.Duration    `json:"took"`
	Health    healthcmd.Report `json:"health"`
	Logs      []string         `json:"logs,omitempty"`
}

// Run loads, creates, starts and waits; it prints the URL and the health table.
func Run(ctx context.Context, opts *Options) error {
	l, err := opts.Config()
	if err != nil {
		return err
	}
	cfg := l.Config
	if opts.Arch == "" {
		opts.Arch = HostArch()
	}
	eng, err := container.Connect(ctx, opts.Engine)
	if err != nil {
		return err
	}
	defer eng.Close()
	began := time.Now()

	loaded, err := loadImage(ctx, opts, eng, cfg)
	if err != nil {
		return err
	}
	spec := container.Spec{
		Name: cfg.Container, ImageID: loaded.ImageID, Arch: opts.Arch, Volume: cfg.Volume,
		Bind: cfg.Bind, Port: cfg.Port, Env: mergeEnv(cfg.Env, opts.Env), Replace: opts.Replace, ReplaceOwn: opts.ReplaceOwn,
		StopTimeout: opts.StopTimeout, Version: version.Get().Version,
	}
	id, err := container.Create(ctx, eng, spec)
	if err != nil {
		return createError(err, spec)
	}
	exited, err := container.Start(ctx, eng, id, spec)
	if err != nil {
		return createError(err, spec)
	}
	url := container.HealthURL(cfg.Bind, cfg.Port, eng.Endpoint())
	var p *iostreams.Progress
	if !opts.IO.WantsJSON() {
		p = opts.IO.StartProgress("waiting for " + cfg.Container + " to be healthy")
	}
	resp, err := container.WaitReady(ctx, eng, id, url, exited, opts.Timeout, func(r *health.Response, err error) {
		if p != nil {
			p.Update(progressStatus(r, err), 0, 0)
		}
	})
	res := Result{Container: cfg.Container, ID: id, Image: loaded, URL: url, Took: time.Since(began)}
	report := healthcmd.Report{Container: cfg.Container, URL: url, State: "running"}
	if c, ierr := eng.ContainerInspect(context.WithoutCancel(ctx), id); ierr == nil {
		report.State, report.Engine = c.State, c.Health
	}
	if resp != nil {
		report = healthcmd.FromResponse(report, resp, 200)
		report.Healthy = err == nil
	}
	res.Health = report
	var re *container.ReadyError
	if errors.As(err, &re) {
		if p != nil {
			p.Fail("") // the reason follows once, in the error line
		}
		res.Logs = re.Logs
		report.Error = re.Reason
		res.Health = report
		if opts.IO.WantsJSON() {
			opts.IO.WriteJSON(res)
		} else {
			printLogs(opts.IO, re.Logs)
			if len(report.Services) > 0 {
				healthcmd.Print(opts.IO, report)
			}
		}
		if re.Exited {
			return cli.Failed(re, "see `nixify logs` for the whole story")
		}
		return &cli.ExitError{Code: cli.ExitUnhealthy, Err: re, Hint: "see `nixify logs`, or wait longer with `nixify health --wait 2m`"}
	}
	if err != nil {
		if p != nil {
			p.Fail(err.Error())
		}
		return err
	}
	if p != nil {
		p.Done(url)
	}
	if opts.IO.WantsJSON() {
		return opts.IO.WriteJSON(res)
	}
	st := opts.IO.Styles()
	opts.IO.Printf("%s %s is healthy at %s\n", st.OK.Render("✓"), cfg.Container, st.Accent.Render(url))
	return healthcmd.Print(opts.IO, report)
}

func progressStatus(r *health.Response, err error) string {
	if err != nil {
		return "health server not answering yet"
	}
	var waiting []string
	for _, s := range r.Services() {
		if !s.Disabled && !s.Status.OK() {
			waiting = append(waiting, s.Name)
		}
	}
	if len(waiting) == 0 {
		return string(r.Status)
	}
	return "waiting for " + strings.Join(waiting, ", ")
}

func printLogs(io *iostreams.IOStreams, lines []string) {
	if len(lines) == 0 {
		return
	}
	st := io.Styles()
	io.Errorf("%s\n", st.Faint.Render("last log lines:"))
	for _, l := range lines {
		io.Errorf("  %s\n", l)
	}
}

// loadImage finds the image to run and makes sure the engine holds it.
func loadImage(ctx context.Context, opts *Options, eng engine.Engine, cfg config.Config) (container.Loaded, error) {
	if opts.Image != "" {
		img, err := eng.ImageInspect(ctx, opts.Image)
		if errors.Is(err, engine.ErrNotFound) {
			return container.Loaded{}, cli.Failed(fmt.Errorf("the engine holds no image %q", opts.Image), "load it first, or run the last build with `nixify run`")
		}
		if err != nil {
			return container.Loaded{}, err
		}
		if want := config.GOARCH(opts.Arch); img.Architecture != "" && img.Architecture != want {
			return container.Loaded{}, cli.Usagef("image %q is for %s, not %s: pass --arch %s", opts.Image, img.Architecture, want, img.Architecture)
		}
		return container.Loaded{ImageID: img.ID, Refs: img.RepoTags, Skipped: true}, nil
	}
	var ref image.Ref
	if opts.Tar != "" {
		if _, err := os.Stat(opts.Tar); err != nil {
			return container.Loaded{}, cli.Usagef("invalid --tar %q: no such file", opts.Tar)
		}
		r, err := image.Parse(opts.Tar)
		if err != nil {
			return container.Loaded{}, cli.UsageError(fmt.Errorf("invalid --tar: %w", err))
		}
		ref = r
	} else {
		b, err := record.Store{Dir: cfg.StateDir}.Latest(opts.Arch)
		if err != nil {
			if errors.Is(err, record.ErrNoBuild) {
				return container.Loaded{}, cli.Failed(err, "or run an image you have with --tar PATH or --image REF")
			}
			return container.Loaded{}, err
		}
		ref = image.BuildRef(b)
	}
	set, err := image.Open(ctx, ref, image.WithoutScan())
	if err != nil {
		return container.Loaded{}, cli.Failed(err, "")
	}
	defer set.Close()
	src := set.Images[0]
	var p *iostreams.Progress
	if !opts.IO.WantsJSON() {
		p = opts.IO.StartProgress("loading " + src.Source)
	}
	loaded, err := container.Load(ctx, eng, src, func(done, total int64, status string) {
		if p != nil {
			p.Update(fmt.Sprintf("%s %s", mib(done), status), done, total)
		}
	})
	if err != nil {
		if p != nil {
			p.Fail("")
		}
		if ctx.Err() != nil {
			return loaded, ctx.Err() // Ctrl-C: exit 130, not a failed load
		}
		return loaded, cli.Failed(err, "")
	}
	if p != nil {
		if loaded.Skipped {
			p.Done("the engine holds it already")
		} else {
			p.Done(fmt.Sprintf("%s, %s", strings.Join(loaded.Refs, " "), mib(loaded.Bytes)))
		}
	}
	return loaded, nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// createError gives the user one line and the way out for the usual failures.
func createError(err error, s container.Spec) error {
	var pe *container.PortInUseError
	switch {
	case errors.As(err, &pe):
		return cli.Failed(err, fmt.Sprintf("free port %d, or publish on another one with --port", pe.Port))
	case errors.Is(err, container.ErrExists):
		return cli.Failed(err, "replace it with `nixify run --replace`, or stop it with `nixify stop`")
	case errors.Is(err, engine.ErrUnavailable):
		return cli.Unavailable(err, "run `nixify doctor`")
	}
	return cli.Failed(err, "")
}
