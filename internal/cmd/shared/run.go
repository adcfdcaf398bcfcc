package shared

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/version"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// RunOptions is what running the container needs, for `nixify run` and the run half of `nixify up`.
type RunOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)
	Engine func() (engine.Engine, error)

	Arch        arch.Arch // empty: this machine's
	Image       string    // an image the engine holds
	Tar         string    // a docker-archive file
	Env         []string
	Replace     bool
	ReplaceOwn  bool // replace only nixify's own container (up)
	Timeout     time.Duration
	StopTimeout time.Duration

	publish *pflag.Flag // --publish as given, for checkPublish
}

// checkPublish refuses a service named twice in --publish ("postgres,postgres=18433" used to take
// the last silently): which port was meant is the user's to say.
func checkPublish(fl *pflag.Flag) error {
	if fl == nil || !fl.Changed {
		return nil
	}
	sv, ok := fl.Value.(pflag.SliceValue)
	if !ok {
		return nil
	}
	seen := map[string]string{}
	for _, item := range sv.GetSlice() {
		name, _, _ := strings.Cut(strings.TrimSpace(item), "=")
		if prev, ok := seen[name]; ok {
			return cli.Usagef("invalid --publish: %s is named twice (%q and %q): give each service once", name, prev, item)
		}
		seen[name] = item
	}
	return nil
}

// AddRunFlags declares the flags of how the container is made, started and awaited: the
// environment, the timeouts, and the configuration keys a flag overrides (port, bind, container,
// volume, publish).
func AddRunFlags(f *cli.Factory, cmd *cobra.Command, o *RunOptions) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&o.Env, "env", "e", nil, "set an environment variable in the container, KEY=VALUE (repeatable)")
	fl.DurationVar(&o.Timeout, "timeout", 2*time.Minute, "how long to wait for the container to be healthy")
	fl.DurationVar(&o.StopTimeout, "stop-timeout", container.DefaultStopTimeout, "how long the engine waits for the ordered shutdown before it kills the container (recorded in it: stop, restart and docker stop use it)")
	fl.Int("port", 0, "host port for the health server (default 8080)")
	fl.String("bind", "", "host address the ports are published on (default 127.0.0.1)")
	fl.String("volume", "", "named volume for /data")
	fl.StringSlice("publish", nil, "publish services on the host: postgres, redis, s3 or all, each optionally NAME=HOSTPORT (e.g. postgres=15432)")
	o.publish = fl.Lookup("publish")
	for _, k := range []string{"port", "bind", "volume", "publish"} {
		f.BindFlag(k, fl.Lookup(k))
	}
	cmd.RegisterFlagCompletionFunc("publish", cobra.FixedCompletions(append(slices.Clone(config.Publishable), "all"), cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveNoSpace))
	AddContainerFlag(f, cmd)
}

// Validate checks the flags before anything runs.
func (o *RunOptions) Validate() error {
	if err := checkPublish(o.publish); err != nil {
		return err
	}
	if err := cli.HostArchIfEmpty(&o.Arch); err != nil {
		return err
	}
	if o.Image != "" && o.Tar != "" {
		return cli.Usagef("--image and --tar both name an image: give one")
	}
	for _, kv := range o.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return cli.Usagef("invalid --env %q: accepted: KEY=VALUE", config.RedactEnv(kv))
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

// MergeEnv returns the configuration's environment overridden by --env, one item per key: a
// process reading its environment sees the first of duplicates, not the last.
func MergeEnv(base, over []string) []string {
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

// Run makes sure the engine holds the image, checks everything that can be checked, then creates
// (or starts again, or replaces) the container, starts it and waits until it is healthy.
func Run(ctx context.Context, o *RunOptions) error {
	l, err := o.Config()
	if err != nil {
		return err
	}
	cfg := l.Config
	if err := cli.HostArchIfEmpty(&o.Arch); err != nil {
		return err
	}
	eng, err := container.Connect(ctx, o.Engine)
	if err != nil {
		return err
	}
	defer eng.Close()
	began := time.Now()

	loaded, err := o.loadImage(ctx, eng, cfg)
	if err != nil {
		return err
	}
	spec := container.Spec{
		Name: cfg.Container, ImageID: loaded.ImageID, Arch: o.Arch, Volume: cfg.Volume,
		Bind: cfg.Bind, Port: cfg.Port, Publish: cfg.Publish, Env: MergeEnv(cfg.Env, o.Env),
		Replace: o.Replace, ReplaceOwn: o.ReplaceOwn, StopTimeout: o.StopTimeout, Version: version.Get().Version,
	}
	plan, err := container.Prepare(ctx, eng, spec)
	if err != nil {
		return StartError(err)
	}
	id, err := plan.Apply(ctx, eng)
	if err != nil {
		return StartError(err)
	}
	if plan.Action == container.AlreadyRunning || plan.Action == container.CreatedMeanwhile {
		if plan.Action == container.CreatedMeanwhile {
			o.IO.Errorf("%s %s was created by another nixify run at the same time (same image and settings): waiting for it\n", o.IO.Styles().OK.Render("✓"), cfg.Container)
		} else {
			o.IO.Errorf("%s %s is running already (same image and settings)\n", o.IO.Styles().OK.Render("✓"), cfg.Container)
		}
		waitCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		return Await(ctx, o.IO, eng, id, eng.ContainerWait(waitCtx, id), o.Timeout, began, &loaded)
	}
	if plan.Action == container.StartExisting {
		o.IO.Errorf("%s starting the stopped %s again (same image, settings and data)\n", o.IO.Styles().Accent.Render("→"), cfg.Container)
	}
	if r := plan.Replaced; r != nil {
		o.IO.Errorf("%s replaced %s (image %s), %s\n", o.IO.Styles().Accent.Render("→"), cfg.Container, iostreams.ShortID(plan.Old.Image), replacedHow(r))
	}
	exited, err := container.Start(ctx, eng, id, plan.Action != container.StartExisting, spec.Ports())
	if err != nil {
		return StartError(err)
	}
	return Await(ctx, o.IO, eng, id, exited, o.Timeout, began, &loaded)
}

// replacedHow says how the replaced container ended: stopped in order, killed, or not running.
func replacedHow(r *container.Stopped) string {
	switch {
	case !r.WasRunning:
		return "which was not running"
	case r.Killed:
		return fmt.Sprintf("killed after %s: its ordered shutdown did not finish", r.Took.Round(100*time.Millisecond))
	case r.ExitCode != 0:
		return fmt.Sprintf("stopped in %s, exit code %d", r.Took.Round(100*time.Millisecond), r.ExitCode)
	}
	return fmt.Sprintf("stopped in order in %s", r.Took.Round(100*time.Millisecond))
}

// StartError gives the user one line and the way out for the usual failures of making and
// starting the container; the hint fits the state of what holds the name.
func StartError(err error) error {
	var pe *container.PortInUseError
	var ee *container.ExistsError
	var ve *container.VolumeInUseError
	var env *container.EnvError
	var ae *container.ArchError
	switch {
	case errors.As(err, &ae):
		return cli.Usagef("%v: pass --arch %s, or run an image built for %s", err, arch.FromOCI(ae.Has), arch.FromOCI(ae.Wants))
	case errors.As(err, &env):
		return &cli.ExitError{Code: cli.ExitUsage, Err: err, Hint: "fix the value with --env, or in the env key of nixify.yaml"}
	case errors.As(err, &pe) && pe.Twice:
		return &cli.ExitError{Code: cli.ExitUsage, Err: err, Hint: "give each service its own host port (--publish NAME=PORT), other than the health server's --port"}
	case errors.As(err, &pe):
		return cli.Failed(err, fmt.Sprintf("free port %d, or choose another host port (--port for the health server, --publish NAME=PORT for a service)", pe.Port))
	case errors.As(err, &ve):
		return cli.Failed(err, "stop that container first, or give this one its own volume with --volume")
	case errors.As(err, &ee):
		return cli.Failed(err, existsHint(ee))
	case errors.Is(err, context.Canceled):
		return err
	}
	return EngineError(err)
}

func existsHint(e *container.ExistsError) string {
	switch {
	case e.Raced && e.State == "being created":
		return "another run took the name at the same time: `nixify status` shows what holds it, or choose another name with --container"
	case !e.Ours:
		return fmt.Sprintf("the name belongs to a container nixify did not make: choose another with --container, or remove it yourself (docker rm -f %s)", e.Name)
	case e.State == "running":
		// The hint names what the error names: "with another image", "with other published ports".
		return fmt.Sprintf("it is running with %s: `nixify run --replace` replaces it (the data volume is kept), `nixify status` shows it", cmp.Or(e.Differs, "other settings"))
	case e.Differs != "":
		return "replace it with `nixify run --replace` (the data volume is kept), or start it as it is with `nixify start`"
	}
	return fmt.Sprintf("it is %s: `nixify stop` then `nixify start`, or replace it with `nixify run --replace`", e.State)
}

// loadImage finds the image to run and makes sure the engine holds it, named so that clean finds
// it again.
func (o *RunOptions) loadImage(ctx context.Context, eng engine.Engine, cfg config.Config) (container.Loaded, error) {
	if o.Image != "" {
		return o.heldImage(ctx, eng)
	}
	ref, err := o.imageRef(cfg)
	if err != nil {
		return container.Loaded{}, err
	}
	// Opened without reading the layers: the engine reads them. What could refuse the image
	// (a sparse file, another architecture) is checked before the engine is handed anything.
	set, err := image.Open(ctx, ref)
	if err != nil {
		return container.Loaded{}, ImageError(err)
	}
	defer set.Close()
	src := set.Images[0]
	if err := o.checkArch(src.Source, src.Architecture()); err != nil {
		return container.Loaded{}, err
	}
	p := o.IO.StartProgress("loading " + src.Source)
	loaded, err := container.Load(ctx, eng, src, func(done, total int64, status string) {
		p.Update(fmt.Sprintf("%s %s", iostreams.Bytes(done), status), done, total)
	})
	if err != nil {
		if ctx.Err() != nil {
			p.Stop()
			return loaded, ctx.Err()
		}
		p.Fail("")
		return loaded, ImageError(err)
	}
	if loaded.Skipped {
		p.Done("the engine holds it already")
	} else {
		p.Done(fmt.Sprintf("%s, %s", ImageName(loaded.Refs), iostreams.Bytes(loaded.Bytes)))
	}
	// A stream's config is known only once loaded: what the engine holds is checked before it is
	// named for an architecture.
	held, err := eng.ImageInspect(ctx, loaded.ImageID)
	if err != nil {
		return loaded, EngineError(err)
	}
	if err := o.checkArch(src.Source, held.Architecture); err != nil {
		return loaded, err
	}
	// The name stays after the container that used the image is replaced, so clean --images finds
	// what nixify loaded; it is a name, so removing it never removes an image another name holds.
	if err := container.NameLoaded(ctx, eng, cfg.Image, o.Arch.String(), loaded.ImageID); err != nil {
		return loaded, EngineError(err)
	}
	return loaded, nil
}

// heldImage is --image: an image the engine holds already, of the right architecture, opened
// through the same door as every other source. nixify does not name it: it did not load it, and
// clean leaves it alone.
func (o *RunOptions) heldImage(ctx context.Context, eng engine.Engine) (container.Loaded, error) {
	ref, err := image.Parse(o.Image)
	if err == nil && ref.Kind != image.FromEngine {
		err = fmt.Errorf("%q is not an image the engine holds (a file goes with --tar)", o.Image)
	}
	if err != nil {
		return container.Loaded{}, cli.UsageError(fmt.Errorf("invalid --image: %w", err))
	}
	set, err := image.Open(ctx, ref, image.WithEngine(eng))
	if errors.Is(err, engine.ErrNotFound) {
		return container.Loaded{}, cli.Failed(fmt.Errorf("the engine holds no image %q", o.Image), "load it first, or run the last build with `nixify run`")
	}
	if err != nil {
		return container.Loaded{}, EngineError(err)
	}
	defer set.Close()
	img := set.Images[0]
	if err := o.checkArch(fmt.Sprintf("image %q", o.Image), img.Architecture()); err != nil {
		return container.Loaded{}, err
	}
	return container.Loaded{ImageID: img.ConfigDigest(), Refs: img.Tags, Skipped: true}, nil
}

// ImageName is the one rule for what an image is called in nixify's output (run, status): its own
// tag (the archive's, as info shows it), not the IMAGE:ARCH-ID name nixify gives what it loads so
// that clean finds it; that one only when it has no other.
func ImageName(names []string) string {
	for _, n := range names {
		if !strings.Contains(n, ":x86_64-") && !strings.Contains(n, ":aarch64-") && !strings.HasPrefix(n, "sha256:") {
			return n
		}
	}
	if len(names) > 0 {
		return names[0]
	}
	return ""
}

// checkArch refuses an image of another architecture than the one asked (exit 2), before the
// engine is handed it and before anything is replaced. got is the GOARCH spelling; "" is unknown.
func (o *RunOptions) checkArch(what, got string) error {
	if want := o.Arch.GOARCH(); got != "" && got != want {
		return cli.Usagef("%s is for %s, not %s: pass --arch %s (nothing was changed)", what, got, want, arch.FromOCI(got))
	}
	return nil
}

// imageRef is the archive to load: --tar, or the architecture's last build.
func (o *RunOptions) imageRef(cfg config.Config) (image.Ref, error) {
	if o.Tar != "" {
		if _, err := os.Stat(o.Tar); err != nil {
			return image.Ref{}, cli.Usagef("invalid --tar %q: no such file", o.Tar)
		}
		r, err := image.Parse(o.Tar, Recorded(cfg.StateDir)...)
		if err != nil {
			return image.Ref{}, cli.UsageError(fmt.Errorf("invalid --tar: %w", err))
		}
		return r, nil
	}
	b, err := LastBuild(cfg.StateDir, o.Arch, "or run an image you have with --tar PATH or --image REF")
	if err != nil {
		return image.Ref{}, err
	}
	return image.BuildRef(b), nil
}

// ImageError gives the ways an image fails to open or load their exit code: a file nixify
// refuses (a script it did not build, a sparse-file bomb) is a bad file (2); an unreachable
// engine 4; the rest 1.
func ImageError(err error) error {
	switch {
	case errors.Is(err, image.ErrRefused), errors.Is(err, image.ErrSparse):
		return cli.UsageError(err)
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, engine.ErrUnavailable):
		return cli.EngineUnreachable(err)
	}
	return cli.Fail(err)
}
