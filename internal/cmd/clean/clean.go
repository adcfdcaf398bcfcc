// Package clean implements `nixify clean`: remove what nixify made on the engine (containers, and
// when asked images, data volumes and build records) and nothing else.
package clean

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/state"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/record"
	"github.com/spf13/cobra"
)

// Options is what `nixify clean` needs.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)
	Engine func() (engine.Engine, error)

	Volumes bool
	Images  bool
	All     bool
	Yes     bool
	DryRun  bool
}

// NewCmdClean wires the command; runF replaces the run function in tests.
func NewCmdClean(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "clean",
		Short: "Remove nixify's containers, and optionally its images, data volumes and build records",
		Long: `Remove what nixify made for this configuration: the container and data volume with the
configured names that carry nixify's label (io.nixify.managed=true), and the images its builds and
that container used. Nothing else on the engine is touched, not even another configuration's
nixify container.

  (default)   nixify's containers, running or not
  --images    also the images nixify built or ran
  --volumes   also nixify's data volumes: the databases are lost, so it asks first unless --yes
  --all       all of the above plus the build records in the state directory`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return cleanRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Volumes, "volumes", false, "also remove nixify's data volumes (asks first)")
	fl.BoolVar(&opts.Images, "images", false, "also remove the images nixify built or ran")
	fl.BoolVar(&opts.All, "all", false, "remove containers, images, volumes and build records")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask before removing data volumes")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "only list what would be removed")
	return cmd
}

// Result is what clean removed (or, with --dry-run, would remove).
type Result struct {
	Containers []string `json:"containers"`
	Images     []string `json:"images"`
	Volumes    []string `json:"volumes"`
	// Kept are images left because containers clean does not remove still use them.
	Kept    []container.KeptImage `json:"kept"`
	Records bool                  `json:"records"`
	DryRun  bool                  `json:"dryRun"`
}

func cleanRun(ctx context.Context, opts *Options) error {
	if opts.All {
		opts.Images, opts.Volumes = true, true
	}
	cfg, eng, err := shared.Connect(ctx, opts.Config, opts.Engine)
	if err != nil {
		return err
	}
	defer eng.Close()
	store := record.Store{Dir: cfg.StateDir}
	plan, err := planClean(ctx, eng, store, cfg, opts)
	if err != nil {
		return err
	}
	res := resultOf(plan, opts)
	res.Records = opts.All && len(stateFiles(cfg.StateDir)) > 0
	if len(plan.Volumes) > 0 && !opts.Yes && !opts.DryRun {
		ok, err := confirm(opts.IO, res.Volumes)
		if err != nil {
			return err
		}
		if !ok {
			return cli.Failed(fmt.Errorf("kept everything: removing the data volumes was not confirmed"), "pass --yes to remove them without asking, or leave out --volumes")
		}
	}
	if !opts.DryRun {
		// A running container is stopped in order first, which takes seconds: say so.
		var p *iostreams.Progress
		for _, c := range plan.Containers {
			if c.Running {
				p = opts.IO.StartProgress("stopping " + c.Name + " in order, then removing")
			}
		}
		if err := apply(ctx, eng, plan, store, opts.All); err != nil {
			p.Fail("")
			return err
		}
		p.Done("")
	}
	return printResult(opts.IO, res, store.Path())
}

// planClean finds what is nixify's for this configuration: the recorded builds' images and the
// images nixify named when it loaded them, beside the container and volume.
func planClean(ctx context.Context, eng engine.Engine, store record.Store, cfg config.Config, opts *Options) (container.CleanPlan, error) {
	var known []string
	if opts.Images {
		builds, err := store.All()
		if err != nil {
			return container.CleanPlan{}, cli.Fail(err)
		}
		for _, b := range builds {
			if b.ConfigDigest != "" {
				known = append(known, b.ConfigDigest)
			}
		}
	}
	plan, err := container.PlanClean(ctx, eng, container.CleanOptions{Container: cfg.Container, Volume: cfg.Volume,
		Images: opts.Images, Volumes: opts.Volumes, KnownImages: known, Repo: cfg.Image})
	if err != nil {
		return plan, shared.EngineError(err)
	}
	return plan, nil
}

// resultOf is the plan as clean reports it: names, with empty lists rather than none.
func resultOf(plan container.CleanPlan, opts *Options) Result {
	res := Result{DryRun: opts.DryRun, Records: opts.All, Containers: []string{}, Images: []string{}, Volumes: []string{}, Kept: []container.KeptImage{}}
	res.Kept = append(res.Kept, plan.Kept...)
	for _, c := range plan.Containers {
		res.Containers = append(res.Containers, c.Name)
	}
	res.Images = append(res.Images, plan.Images...)
	for _, v := range plan.Volumes {
		res.Volumes = append(res.Volumes, v.Name)
	}
	return res
}

func apply(ctx context.Context, eng engine.Engine, plan container.CleanPlan, store record.Store, records bool) error {
	if err := plan.Apply(ctx, eng); err != nil {
		return shared.EngineError(err)
	}
	if records {
		if err := store.Clear(); err != nil {
			return cli.Fail(fmt.Errorf("remove build records: %w", err))
		}
		// The result-<arch> links keep the last builds from Nix's garbage collector: with the
		// records gone nothing names those builds any more.
		for _, a := range arch.All {
			link := state.Dir(store.Dir).Result(a)
			if fi, err := os.Lstat(link); err == nil && fi.Mode()&os.ModeSymlink != 0 {
				if err := os.Remove(link); err != nil {
					return cli.Fail(fmt.Errorf("remove %s: %w", link, err))
				}
			}
		}
	}
	return nil
}

// stateFiles lists what clean --all removes from the state directory and is there: the records
// and the links to the last builds.
func stateFiles(dir string) []string {
	d := state.Dir(dir)
	var there []string
	for _, p := range []string{d.Builds(), d.BuildTimes(), d.Closures(), d.Result(arch.X86_64), d.Result(arch.AArch64)} {
		if _, err := os.Lstat(p); err == nil {
			there = append(there, p)
		}
	}
	return there
}

// printResult writes what was (or, with --dry-run, would be) removed.
func printResult(io *iostreams.IOStreams, res Result, recordsPath string) error {
	if io.WantsJSON() {
		return io.WriteJSON(res)
	}
	if len(res.Containers)+len(res.Images)+len(res.Volumes)+len(res.Kept) == 0 && !res.Records {
		io.Printf("nothing of nixify's to remove\n")
		return nil
	}
	t := io.NewTable("kind", "name")
	for _, n := range res.Containers {
		t.Row("container", n)
	}
	for _, n := range res.Images {
		t.Row("image", iostreams.ShortID(n))
	}
	for _, n := range res.Volumes {
		t.Row("volume", n)
	}
	if res.Records {
		t.Row("build records", recordsPath+" (and the result-* links)")
	}
	for _, k := range res.Kept {
		t.Row("kept image", iostreams.ShortID(k.ID)+" (used by "+strings.Join(k.UsedBy, ", ")+")")
	}
	verb := "removed"
	if res.DryRun {
		verb = "would remove"
	}
	io.Printf("%s:\n", verb)
	t.Render()
	return nil
}

// confirm asks before the data goes; without a terminal to ask on, it refuses.
func confirm(io *iostreams.IOStreams, volumes []string) (bool, error) {
	if !io.IsTTY() {
		return false, cli.Usagef("removing data volumes (%s) needs confirmation and there is no terminal to ask on: pass --yes", strings.Join(volumes, ", "))
	}
	io.Errorf("Remove the data volumes %s? Their PostgreSQL, Redis and Garage data will be lost. [y/N] ", strings.Join(volumes, ", "))
	line, _ := bufio.NewReader(io.In).ReadString('\n')
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes", nil
}
