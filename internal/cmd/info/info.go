// Package info implements `nixify info`: what an image holds (sizes, layers and the store paths in
// them, platform, digests, runtime settings) and what looks wrong, from any source nixify knows.
package info

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/record"
	"github.com/nixify/nixify/internal/registryclient"
	"github.com/spf13/cobra"
)

// Options is what `nixify info` needs.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)
	Engine func() (engine.Engine, error)

	Source string // empty: the last build
	Tar    string // --tar: a docker-archive file, as run takes it
	Arch   string // with the last build or an index: which architectures

	Diff        bool     // --diff: compare instead of describe (diff.go)
	DiffSources []string // OLD NEW, or none for the last two builds

	Closure bool   // list the store paths, largest first (budget.go)
	Top     int    // with Closure: only the largest N
	MaxSize string // fail when an image is larger uncompressed
}

// NewCmdInfo wires the command; runF replaces the run function in tests.
func NewCmdInfo(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "info [SOURCE] | --diff [OLD NEW]",
		Short: "Show what an image holds: sizes, layers and store paths, platform, digests, settings",
		Long: `Show an image's sizes, layers (with the Nix store paths in each), platform, config and
manifest digests, entrypoint, environment, ports, volumes, healthcheck, labels and annotations, with
warnings for layer counts near the limits, missing OCI labels and a wrong architecture.

SOURCE is one of:
  (nothing)              the last build of each architecture (--arch to choose)
  PATH                   a docker-archive (plain, gzip or zstd), or the streamLayeredImage
                         script the last build recorded (./result); no other executable is run
  NAME[:TAG] or ID       an image in the Docker engine
  REGISTRY/REPO[:TAG]    a registry image or multi-arch index (every platform, or --arch)
Only headers and the config are read; layers are never loaded into memory. For a registry image it
also lists what is attached to it (the SBOM and provenance nixify push attaches, signatures).

--diff OLD NEW compares two sources (of the kinds above) like nix store diff-closures: store paths
added, removed and changed with their versions (postgresql 16.4 -> 16.6), per-layer size changes
and the total; without sources it compares the last two builds of each architecture.`,
		Example: `  nixify info
  nixify info --tar image.tar.gz
  nixify info result
  nixify info ghcr.io/owner/nixify-health-check:latest --arch arm64 -o json
  nixify info --diff
  nixify info --diff ghcr.io/owner/app:v1 ghcr.io/owner/app:v2 --arch x86_64`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Diff {
				opts.DiffSources = args // diff.go
			} else if len(args) > 1 {
				return cli.Usagef("info takes one SOURCE (two only with --diff OLD NEW)")
			} else if len(args) == 1 {
				opts.Source = args[0]
			}
			if opts.Tar != "" {
				if opts.Source != "" || opts.Diff {
					return cli.Usagef("--tar names the image: give no SOURCE (and no --diff) with it")
				}
				if st, err := os.Stat(opts.Tar); err != nil || st.IsDir() {
					return cli.Usagef("invalid --tar %q: no such file", opts.Tar)
				}
				opts.Source = opts.Tar
			}
			if runF != nil {
				return runF(opts)
			}
			return infoRun(cmd.Context(), opts)
		},
	}
	cli.ArchsFlag(cmd, &opts.Arch, "", "architectures to show (default and all: every one there is)")
	cmd.Flags().StringVar(&opts.Tar, "tar", "", "a docker-archive file (plain, gzip or zstd), as `nixify run --tar` takes it")
	cmd.Flags().BoolVar(&opts.Diff, "diff", false, "compare two images (OLD NEW), or the last two builds: packages added, removed, changed, layer sizes")
	addBudgetFlags(cmd, opts)
	return cmd
}

// Report is the JSON output: the images, and the index when the source named one.
type Report struct {
	Index  *image.Index  `json:"index,omitempty"`
	Images []*image.Info `json:"images"`
	// Attached lists, for registry images, the referrers attached to each (see referrers.go).
	Attached []Attachments `json:"attached,omitempty"`
	Closures []Closure     `json:"closures,omitempty"` // with --closure (budget.go)
}

func infoRun(ctx context.Context, opts *Options) error {
	maxSize, err := parseBudget(opts)
	if err != nil {
		return err
	}
	// all means every architecture there is: nil, like no --arch.
	archs, err := cli.ParseArchs(opts.Arch, nil)
	if err != nil {
		return err
	}
	if opts.Diff {
		return diffRun(ctx, opts, archs, opts.DiffSources)
	}
	set, err := open(ctx, opts, archs)
	if err != nil {
		return err
	}
	defer set.Close()
	rep := Report{Index: set.Index}
	if rep.Images, err = describe(set, archs); err != nil {
		return err
	}
	if len(rep.Images) == 0 {
		return cli.Fail(fmt.Errorf("%s holds no image for %s", opts.Source, strings.Join(arch.Strings(archs), ", ")))
	}
	rep.Attached = attachments(ctx, set, archs)
	for _, inf := range rep.Images {
		if opts.Closure {
			rep.Closures = append(rep.Closures, closureOf(inf))
		}
	}
	if opts.IO.WantsJSON() {
		if err := opts.IO.WriteJSON(rep); err != nil {
			return err
		}
		return checkBudget(rep, maxSize)
	}
	render(opts.IO, rep)
	renderAttachments(opts.IO, rep.Attached)
	renderClosure(opts.IO, rep.Closures, opts.Top)
	return checkBudget(rep, maxSize)
}

// describe reads the set's images of archs (every one when none is asked): the source is read now.
func describe(set *image.Set, archs []arch.Arch) ([]*image.Info, error) {
	var infos []*image.Info
	for _, img := range set.Images {
		if len(archs) > 0 && img.Arch != "" && !slices.Contains(archs, img.Arch) {
			continue
		}
		inf, err := image.Describe(img)
		if err != nil {
			return nil, openError(err)
		}
		infos = append(infos, inf)
	}
	return infos, nil
}

// open opens what the user named, or without a name the last builds.
func open(ctx context.Context, opts *Options, archs []arch.Arch) (*image.Set, error) {
	if opts.Source == "" {
		return openBuilds(ctx, opts, archs)
	}
	ref, err := shared.ParseImage(opts.Source, opts.Config)
	if err != nil {
		return nil, err
	}
	var iopts []image.Option
	if ref.Kind == image.FromEngine {
		e, err := opts.Engine()
		if err != nil {
			return nil, err
		}
		defer e.Close()
		iopts = append(iopts, image.WithEngine(e))
	}
	set, err := image.Open(ctx, ref, iopts...)
	if err != nil {
		return nil, openError(err)
	}
	return set, nil
}

// openError gives each way a source fails to open its exit code and the way out.
func openError(err error) error {
	var nf *image.NotFoundError
	switch {
	case errors.As(err, &nf):
		return cli.Fail(err)
	case errors.Is(err, engine.ErrNotFound):
		return cli.Failed(err, "registry references need a host, e.g. ghcr.io/owner/name:tag")
	case errors.Is(err, registryclient.ErrUnreachable):
		return cli.Unavailable(err, "check the registry's host and the network")
	case errors.Is(err, registryclient.ErrDenied):
		return cli.Failed(err, "check your registry credentials (docker login, or GITHUB_TOKEN for ghcr.io)")
	}
	return shared.ImageError(err)
}

// openBuilds opens the last build of each architecture asked (default: the configured ones).
func openBuilds(ctx context.Context, opts *Options, archs []arch.Arch) (*image.Set, error) {
	l, err := opts.Config()
	if err != nil {
		return nil, err
	}
	if len(archs) == 0 {
		archs = l.Config.Architectures
	}
	set := &image.Set{}
	var missing []string
	for _, a := range archs {
		b, err := shared.LastBuild(l.Config.StateDir, a, "")
		if errors.Is(err, record.ErrNoBuild) {
			missing = append(missing, err.Error())
			continue
		}
		if err != nil {
			return nil, err
		}
		s, err := image.Open(ctx, image.BuildRef(b))
		if err != nil {
			set.Close()
			return nil, openError(err)
		}
		set.Images = append(set.Images, s.Images...)
	}
	if len(set.Images) == 0 {
		return nil, cli.Failed(errors.New(strings.Join(missing, "; ")), "build first, or name an archive, engine image or registry reference")
	}
	return set, nil
}
