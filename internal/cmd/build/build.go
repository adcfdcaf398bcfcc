// Package build implements `nixify build`: build the flake's image for one or more architectures
// with a live view of what nix does, and record the results for run, info and push.
package build

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/build"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/nix"
	"github.com/nixify/nixify/internal/record"
	"github.com/spf13/cobra"
)

// Options is what `nixify build` needs.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)
	Nix    func() (*nix.Nix, error)

	Arch string // --arch as given; empty: this machine's
	Plan bool   // --plan: say what the build would do, and build nothing
}

// NewCmdBuild wires the command; runF replaces the run function in tests.
func NewCmdBuild(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Nix: nix.Find}
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the image with Nix for x86_64 and/or aarch64",
		Long: `Build the flake's image with nix and show what nix builds and downloads as it happens.

A foreign architecture is built natively when this host can (extra-platforms with binfmt
emulation, or a remote builder), otherwise from the flake's cross output
packages.<host>.<attr>-cross-<arch>. The result is recorded in the state directory, so that
run, info and push use it without building again.

--plan asks nix what the build would build and fetch, and prints it with the time each
derivation took when nixify last built it ("new" when it has not) and the download sizes.
It builds nothing.`,
		Example: `  nixify build
  nixify build --arch all
  nixify build --plan --arch all -o json
  nixify build --arch arm64 --flake github:owner/repo --attr docker-image-static`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return buildRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	cli.ArchsFlag(cmd, &opts.Arch, "", "architectures to build (default: this machine's; all: the configured ones)")
	fl.BoolVar(&opts.Plan, "plan", false, "show what the build would build and fetch, with estimates; build nothing")
	fl.String("flake", "", "flake reference that defines the image (config key flake, default .)")
	fl.String("attr", "", "package attribute of the image (config key attr, default docker-image-static)")
	f.BindFlag("flake", fl.Lookup("flake"))
	f.BindFlag("attr", fl.Lookup("attr"))
	return cmd
}

// Archs reads --arch; without it, this machine's architecture is built.
func Archs(flag string, configured []arch.Arch) ([]arch.Arch, error) {
	archs, err := cli.ParseArchs(flag, configured)
	if err != nil || archs != nil {
		return archs, err
	}
	h, err := cli.HostArch()
	return []arch.Arch{h}, err
}

func buildRun(ctx context.Context, opts *Options) error {
	l, err := opts.Config()
	if err != nil {
		return err
	}
	cfg := l.Config
	archs, err := Archs(opts.Arch, cfg.Architectures)
	if err != nil {
		return err
	}
	n, err := opts.Nix()
	if err != nil {
		return cli.Unavailable(err, nix.InstallHint)
	}

	if opts.Plan {
		// Nix evaluates the flake and asks the binary caches first: that can take a while.
		var p *iostreams.Progress
		if opts.IO.IsErrTTY() {
			p = opts.IO.StartProgress("asking nix what the build would do")
		}
		pvs, err := build.Previews(ctx, n, build.Options{Flake: cfg.Flake, Attr: cfg.Attr, Archs: archs, StateDir: cfg.StateDir})
		p.Stop()
		if err != nil {
			return explain(err, nil)
		}
		return reportPlan(opts.IO, pvs)
	}

	store := record.Store{Dir: cfg.StateDir}
	// In GitHub Actions the build's lines fold into one group; the result stays outside it.
	endGroup := opts.IO.Group("nix build " + strings.Join(arch.Strings(archs), ", "))
	v := newView(opts.IO, store.Times(), func(ctx context.Context, installables []string) (*nix.Graph, error) {
		var roots []string
		for _, i := range installables {
			d, err := n.DrvPath(ctx, i)
			if err != nil {
				return nil, err
			}
			roots = append(roots, d)
		}
		return nix.LoadGraph(roots...)
	})
	results, err := build.Run(ctx, n, build.Options{
		Flake: cfg.Flake, Attr: cfg.Attr, Archs: archs, StateDir: cfg.StateDir,
		OnEvent: v.handle,
		OnPlan:  v.plan,
	})
	v.stop()
	endGroup()
	// What was built is worth remembering even when another part failed: the next run estimates.
	_ = store.SaveTimes(v.built())
	if err != nil {
		return explain(err, v)
	}
	return report(opts.IO, results)
}

// downloadRE finds the URL of a download that failed for good.
var downloadRE = regexp.MustCompile(`unable to download '([^']+)'`)

// explain turns a build failure into one line and a hint, after printing the failing
// derivation's last log lines (v is nil for a plan, which builds nothing).
func explain(err error, v *view) error {
	if errors.Is(err, context.Canceled) {
		return &cli.ExitError{Code: cli.ExitInterrupted, Err: errors.New("interrupted")}
	}
	var nw *build.NoWayError
	if errors.As(err, &nw) {
		return cli.Failed(err, nw.Hint())
	}
	var ne *nix.Error
	if !errors.As(err, &ne) {
		return cli.Fail(err)
	}
	if m := downloadRE.FindStringSubmatch(ne.Message.Text); m != nil {
		return cli.Failed(err, "nix needs network access to fetch the flake's inputs and could not download "+m[1]+
			"; nix honours the proxy variables http_proxy, https_proxy, all_proxy and no_proxy (a nix daemon reads them from its own environment)")
	}
	switch ne.Kind {
	case nix.BuilderFailure:
		if v != nil {
			v.printTail(ne.Drv)
		}
		return cli.Failed(err, "the log lines above are the end of the failing build; --verbose shows every line as it comes")
	case nix.MissingAttribute:
		return cli.Failed(err, "check --attr (config key attr); `nix flake show` lists the flake's packages")
	case nix.EvalFailure:
		return cli.Failed(err, "fix the Nix expression at the position above")
	case nix.UnsupportedSystem:
		return cli.Failed(err, "run `nixify doctor` to see which systems this host can build")
	}
	return cli.Fail(err)
}

// jsonBuild is one architecture in `--output json`.
type jsonBuild struct {
	Architecture string  `json:"architecture"` // OCI's name (amd64, arm64), as every command's JSON says
	System       string  `json:"system"`
	Strategy     string  `json:"strategy"`
	Reason       string  `json:"reason"`
	Installable  string  `json:"installable"`
	DrvPath      string  `json:"drvPath"`
	OutPath      string  `json:"outPath"`
	Kind         string  `json:"kind"`
	ConfigDigest string  `json:"configDigest"`
	RepoTag      string  `json:"repoTag"`
	Size         int64   `json:"size"`
	Seconds      float64 `json:"buildSeconds"`
	Revision     string  `json:"flakeRevision"`
	FlakeHash    string  `json:"flakeHash"`
}

func report(io *iostreams.IOStreams, results []build.Result) error {
	if io.WantsJSON() {
		out := struct {
			Builds []jsonBuild `json:"builds"`
		}{Builds: []jsonBuild{}}
		for _, r := range results {
			b := r.Record
			out.Builds = append(out.Builds, jsonBuild{Architecture: b.Arch.GOARCH(), System: b.System, Strategy: string(r.Plan.Strategy),
				Reason: r.Plan.Reason, Installable: b.Installable, DrvPath: b.DrvPath, OutPath: b.OutPath,
				Kind: string(b.Kind), ConfigDigest: b.ConfigDigest, RepoTag: b.RepoTag, Size: b.Size,
				Seconds: b.Duration.Seconds(), Revision: b.FlakeRevision, FlakeHash: b.FlakeHash})
		}
		return io.WriteJSON(out)
	}
	// The output is named as nix names store paths in its progress (the name without the hash:
	// it ends in .tar.gz for a tarball and starts with stream- for a stream script, so the kind
	// needs no column), and two architectures' rows fit 80 columns; -o json and the result link
	// in the state directory give the whole path.
	t := io.NewTable("arch", "how", "image id", "size", "time", "output")
	for _, r := range results {
		b := r.Record
		t.Row(b.Arch.String(), string(r.Plan.Strategy), iostreams.ShortID(b.ConfigDigest), iostreams.Bytes(b.Size),
			humanDuration(b.Duration), nix.StoreName(b.OutPath))
	}
	t.Render()
	return nil
}

func humanDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// Step builds one architecture as `nixify build --arch ARCH` does. The root command hands it to
// commands that build first (up), so that no command imports another or runs one through the
// command tree.
func Step(f *cli.Factory) func(ctx context.Context, a arch.Arch) error {
	return func(ctx context.Context, a arch.Arch) error {
		return buildRun(ctx, &Options{IO: f.IO, Config: f.Config, Nix: nix.Find, Arch: a.String()})
	}
}
