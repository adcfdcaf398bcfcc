// Package push implements `nixify push`: ship the last build of each architecture to a registry as
// one multi-arch image, tagged as the original project tagged it.
package push

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/publish"
	"github.com/nixify/nixify/internal/record"
	"github.com/spf13/cobra"
)

// Options is what `nixify push` needs.
type Options struct {
	IO      *iostreams.IOStreams
	Config  func() (*config.Loaded, error)
	Getenv  func(string) string
	WorkDir string // where git is asked for branch and commit; empty: the working directory

	Arch          string
	Tags          []string
	Latest        bool
	DryRun        bool
	ImageRefs     string
	Username      string
	PasswordStdin bool
	NoIndex       bool
	IndexFrom     []string

	// Publish is publish.Push and PublishIndex publish.PushIndex; tests may wrap them.
	Publish      func(context.Context, publish.Options) (*publish.Result, error)
	PublishIndex func(context.Context, publish.Options) (*publish.Result, error)
}

// NewCmdPush wires the command; runF replaces the run function in tests.
func NewCmdPush(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Getenv: f.Getenv, WorkDir: f.WorkDir, Publish: publish.Push, PublishIndex: publish.PushIndex}
	cmd := &cobra.Command{
		Use:   "push",
		Short: "Push the last builds as one multi-arch image (OCI index) to a registry",
		Long: `Push each architecture's last build by digest, after checking that its config declares that
architecture, then an OCI index of all of them with OCI annotations (source, revision, created,
description, licenses), and only then the tags:
  per architecture  BRANCH-SHA-ARCH-static, and latest-ARCH-linux-static on the default branch
  the index         BRANCH-SHA, latest on the default branch (or with --latest), and each --tag
Branch and commit come from GITHUB_REF_NAME and GITHUB_SHA, else from git.
Credentials: GITHUB_TOKEN for ghcr.io, then docker config and credential helpers, or
--username with the password on stdin (--password-stdin). Digest references go to stdout.

CI with one runner per architecture: each job runs push --arch A --no-index --image-refs refs-A.txt,
then one job runs push --index-from refs-x86_64.txt --index-from refs-aarch64.txt, which writes the
index of those images and its tags (no build needed there).`,
		Example: `  nixify push --repo ghcr.io/owner/nixify-health-check
  nixify push --arch x86_64 --tag v1.2.0 --dry-run
  echo "$TOKEN" | nixify push --username ci --password-stdin --image-refs refs.txt
  nixify push --arch aarch64 --no-index --image-refs refs-aarch64.txt
  nixify push --index-from refs-x86_64.txt --index-from refs-aarch64.txt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return pushRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	cli.ArchsFlag(cmd, &opts.Arch, "all", "architectures to push (all: the configured ones)")
	fl.String("repo", "", "registry repository REGISTRY/NAMESPACE/NAME (config key repo)")
	fl.StringArrayVar(&opts.Tags, "tag", nil, "extra tag for the index (repeatable)")
	fl.BoolVar(&opts.Latest, "latest", false, "also tag latest when not on the default branch")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "compute digests and tags, write nothing")
	fl.StringVar(&opts.ImageRefs, "image-refs", "", "write the pushed digest references to this file, one a line")
	fl.StringVar(&opts.Username, "username", "", "registry user name (with --password-stdin)")
	fl.BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the registry password or token from stdin")
	fl.BoolVar(&opts.NoIndex, "no-index", false, "push the images and their per-architecture tags only (a later --index-from writes the index)")
	fl.StringArrayVar(&opts.IndexFrom, "index-from", nil, "write the index of the images listed in this --image-refs file (repeatable); builds are not read")
	cmd.MarkFlagsMutuallyExclusive("no-index", "index-from")
	f.BindFlag("repo", fl.Lookup("repo"))
	return cmd
}

func pushRun(ctx context.Context, opts *Options) error {
	l, err := opts.Config()
	if err != nil {
		return err
	}
	cfg := l.Config
	if cfg.Repo == "" {
		return cli.Usagef("no repository to push to: pass --repo REGISTRY/NAMESPACE/NAME or set repo in nixify.yaml (NIXIFY_REPO)")
	}
	archs, err := cli.ParseArchs(opts.Arch, cfg.Architectures)
	if err != nil {
		return err
	}
	if archs == nil {
		archs = cfg.Architectures
	}
	for _, t := range opts.Tags {
		if err := publish.ValidTag(t); err != nil {
			return cli.UsageError(err)
		}
	}
	creds, err := credentials(opts)
	if err != nil {
		return err
	}
	rev, err := publish.ResolveRevision(ctx, opts.Getenv, opts.WorkDir)
	var revp *publish.Revision
	switch {
	case err == nil:
		revp = &rev
	case len(opts.Tags) == 0:
		return cli.Failed(err, "pass --tag, or set GITHUB_REF_NAME and GITHUB_SHA")
	}
	latest := opts.Latest || (revp != nil && revp.Default)
	// created is when the source was committed: the same commit pushed twice gives the same
	// digests, and a dry run predicts them. Without git, the newest build's time does the same.
	created := time.Now().UTC().Truncate(time.Second)
	if revp != nil && !revp.Time.IsZero() {
		created = revp.Time
	} else if t := newestBuild(record.Store{Dir: cfg.StateDir}, archs); !t.IsZero() {
		created = t
	}
	if len(opts.IndexFrom) > 0 {
		refs, err := readRefs(opts.IndexFrom)
		if err != nil {
			return err
		}
		return report(ctx, opts, opts.PublishIndex, publish.Options{
			Repo:        cfg.Repo,
			Refs:        refs,
			Tags:        publish.PlanTags(nil, revp, latest, opts.Tags),
			Annotations: publish.Annotations(nil, revp, opts.Getenv, created),
			DryRun:      opts.DryRun,
			Credentials: creds,
		}, nil)
	}

	store := record.Store{Dir: cfg.StateDir}
	cache := image.NewLayerCache(cfg.StateDir)
	var ims []publish.Image
	var labels map[string]string
	for _, a := range archs {
		b, err := store.Latest(a)
		if err != nil {
			if errors.Is(err, record.ErrNoBuild) {
				return cli.Failed(err, fmt.Sprintf("build it first: nixify build --arch %s", a))
			}
			return cli.Failed(err, "")
		}
		img, err := image.OpenBuild(ctx, b, image.WithLayers(), image.WithLayerCache(cache))
		if err != nil {
			return cli.Failed(err, "")
		}
		defer img.Close()
		if labels == nil {
			c, err := img.Image.ConfigFile()
			if err == nil {
				labels = c.Config.Labels
			}
		}
		ims = append(ims, publish.Image{Arch: a, Image: img.Image})
	}
	po := publish.Options{
		Repo:        cfg.Repo,
		Images:      ims,
		Tags:        publish.PlanTags(archs, revp, latest, opts.Tags),
		Annotations: publish.Annotations(labels, revp, opts.Getenv, created),
		DryRun:      opts.DryRun,
		NoIndex:     opts.NoIndex,
		Credentials: creds,
	}
	return report(ctx, opts, opts.Publish, po, archs)
}

// report runs one publish step and prints its digest references (and, with --image-refs, writes them).
func report(ctx context.Context, opts *Options, publishF func(context.Context, publish.Options) (*publish.Result, error), po publish.Options, archs []arch.Arch) error {
	var live *iostreams.Live
	if !po.DryRun && archs != nil {
		live = opts.IO.NewLive()
		po.Progress = progress(live, archs)
	}
	res, err := publishF(ctx, po)
	if live != nil {
		live.Stop()
	}
	if err != nil {
		return cli.Failed(err, "")
	}
	if opts.ImageRefs != "" {
		if err := os.WriteFile(opts.ImageRefs, []byte(strings.Join(res.Refs(), "\n")+"\n"), 0o644); err != nil {
			return cli.Failed(fmt.Errorf("write --image-refs: %w", err), "")
		}
	}
	if opts.IO.WantsJSON() {
		return opts.IO.WriteJSON(res)
	}
	st := opts.IO.Styles()
	verb := "pushed"
	if res.DryRun {
		verb = "would push"
	}
	for _, p := range append(res.Images, res.Index) {
		if p.Ref == "" {
			continue
		}
		what := p.Arch.String()
		if what == "" {
			what = "index"
		}
		opts.IO.Printf("%s\n", p.Ref)
		opts.IO.Errorf("%s %s %s tags: %s\n", st.OK.Render(verb), what, st.Faint.Render(p.Digest[:19]), strings.Join(p.Tags, ", "))
	}
	return nil
}

// newestBuild is when the newest of the architectures' recorded builds was made (zero if none).
func newestBuild(store record.Store, archs []arch.Arch) time.Time {
	var newest time.Time
	all, _ := store.All()
	for _, b := range all {
		if slices.Contains(archs, b.Arch) && b.BuiltAt.After(newest) {
			newest = b.BuiltAt
		}
	}
	return newest.UTC().Truncate(time.Second)
}

// readRefs reads the digest references that --image-refs files hold, one a line.
func readRefs(files []string) ([]string, error) {
	var refs []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, cli.Usagef("--index-from %s: %v", f, err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				refs = append(refs, line)
			}
		}
	}
	if len(refs) == 0 {
		return nil, cli.Usagef("--index-from: %s list no image references", strings.Join(files, ", "))
	}
	return refs, nil
}

// credentials reads --password-stdin; the password is never echoed or logged.
func credentials(opts *Options) (*publish.Credentials, error) {
	if opts.PasswordStdin && opts.Username == "" {
		return nil, cli.Usagef("--password-stdin needs --username")
	}
	if opts.Username == "" {
		return nil, nil
	}
	if !opts.PasswordStdin {
		return nil, cli.Usagef("--username needs --password-stdin (passwords are not taken as flags)")
	}
	line, err := bufio.NewReader(opts.IO.In).ReadString('\n')
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, cli.Failed(fmt.Errorf("read the password from stdin: %w", err), "")
		}
		return nil, cli.Usagef("--password-stdin: stdin is empty")
	}
	return &publish.Credentials{Username: opts.Username, Password: line}, nil
}

// progress draws one line per architecture: bytes uploaded of the total.
func progress(live *iostreams.Live, archs []arch.Arch) func(arch.Arch, int64, int64) {
	var mu sync.Mutex
	state := map[arch.Arch][2]int64{}
	return func(a arch.Arch, done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		state[a] = [2]int64{done, total}
		var lines []string
		for _, a := range archs {
			s, ok := state[a]
			switch {
			case !ok:
				lines = append(lines, fmt.Sprintf("  %-8s waiting", a))
			case s[1] > 0:
				lines = append(lines, fmt.Sprintf("%s %-8s %3d%%  %d of %d bytes", live.Spinner(), a, s[0]*100/s[1], s[0], s[1]))
			}
		}
		live.Set(lines...)
	}
}
