// Package push implements `nixify push`: ship the last build of each architecture to a registry as
// one multi-arch image, tagged as the original project tagged it.
package push

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/sys/atomicwriter"
	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/nix"
	"github.com/nixify/nixify/internal/publish"
	"github.com/nixify/nixify/internal/record"
	"github.com/nixify/nixify/internal/registryclient"
	"github.com/nixify/nixify/internal/state"
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
	Force         bool
	Timeout       time.Duration
	StallTimeout  time.Duration
	ImageRefs     string
	Username      string
	PasswordStdin bool
	NoIndex       bool
	IndexFrom     []string
	NoSBOM        bool

	// Client adds registry client options (tests: quick retries).
	Client []registryclient.Option
}

// NewCmdPush wires the command; runF replaces the run function in tests.
func NewCmdPush(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Getenv: f.Getenv, WorkDir: f.WorkDir}
	cmd := &cobra.Command{
		Use:   "push",
		Short: "Push the last builds as one multi-arch image (OCI index) to a registry",
		Long: `Push each architecture's last build by digest, after checking that its config declares that
architecture, then an OCI index of all of them with OCI annotations (source, revision, created,
description, licenses), then each image's SBOM (CycloneDX 1.6) and provenance (in-toto, SLSA v1)
as OCI 1.1 referrers (the referrers API, or the fallback tag sha256-DIGEST where the registry has
none; --no-sbom leaves them out), and only then the tags:
  per architecture  BRANCH-SHA-ARCH-static, and latest-ARCH-linux-static on the default branch
  the index         BRANCH-SHA, latest on the default branch (or with --latest), and each --tag
The commit in tags and in the revision annotation is the one the builds were made from (their
flake's revision); the branch comes from GITHUB_REF_NAME, else from the flake's git checkout
(wherever build --flake pointed). A build from a tree with uncommitted changes, or a checkout
whose HEAD moved since the build, is refused unless --force. An index tag
whose current index has architectures this push lacks (push --arch X would turn a multi-arch
latest into a one-architecture one), or a --tag that names another image already, is refused
unless --force.
Every request gives up after --request-timeout without progress (raise it for a registry that
takes long to accept a large layer); the whole push after --timeout.
Credentials: GITHUB_TOKEN for ghcr.io, then docker config and credential helpers, or
--username with the password on stdin (--password-stdin). Digest references go to stdout.

CI with one runner per architecture: each job runs push --arch A --no-index --image-refs refs-A.txt,
then one job runs push --index-from refs-x86_64.txt --index-from refs-aarch64.txt, which writes the
index of those images and its tags (no build needed there).`,
		Example: `  nixify push --repo ghcr.io/owner/nixify-health-check
  nixify push --arch x86_64 --tag v1.2.0 --dry-run
  echo "$TOKEN" | nixify push --username ci --password-stdin
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
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the plan (digests, tags, annotations) and write nothing")
	fl.BoolVar(&opts.Force, "force", false, "push a build from a dirty tree or an older commit, or let an index tag lose architectures")
	fl.DurationVar(&opts.Timeout, "timeout", 30*time.Minute, "give up when the whole push takes longer (0: no limit)")
	fl.DurationVar(&opts.StallTimeout, "request-timeout", registryclient.DefaultRequestTimeout, "give up on a request that makes no progress for this long")
	fl.StringVar(&opts.ImageRefs, "image-refs", "", "write the pushed digest references to this file, one a line")
	fl.StringVar(&opts.Username, "username", "", "registry user name (with --password-stdin)")
	fl.BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the registry password or token from stdin")
	fl.BoolVar(&opts.NoIndex, "no-index", false, "push the images and their per-architecture tags only (a later --index-from writes the index)")
	fl.StringArrayVar(&opts.IndexFrom, "index-from", nil, "write the index of the images listed in this --image-refs file (repeatable); builds are not read")
	fl.BoolVar(&opts.NoSBOM, "no-sbom", false, "do not attach the SBOM (CycloneDX) and provenance (in-toto SLSA) to each image")
	cmd.MarkFlagsMutuallyExclusive("no-index", "index-from")
	f.BindFlag("repo", fl.Lookup("repo"))
	return cmd
}

func pushRun(ctx context.Context, opts *Options) error {
	cfg, archs, err := settings(opts)
	if err != nil {
		return err
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	pub, err := publisher(opts, cfg.Repo)
	if err != nil {
		return err
	}
	req, done, err := request(ctx, opts, cfg, archs)
	if err != nil {
		return pushError(ctx, opts, err)
	}
	defer done()
	plan, err := pub.Plan(ctx, req)
	if err != nil {
		return pushError(ctx, opts, err)
	}
	if opts.DryRun {
		return report(opts, &publish.Result{Plan: plan, DryRun: true})
	}
	res, err := execute(ctx, opts, pub, plan)
	if err != nil {
		return pushError(ctx, opts, err)
	}
	if err := remember(cfg.StateDir, res); err != nil {
		return err
	}
	return report(opts, res)
}

// remember records what the push wrote, for `nixify deploy`: the repository, the digests and the
// tags. A push that writes no image (--index-from) keeps the images the index lists.
func remember(stateDir string, res *publish.Result) error {
	p := record.Push{Repo: res.Repo, Images: map[arch.Arch]string{}, PushedAt: time.Now().UTC()}
	if res.Index != nil {
		p.Index = res.Index.Digest
	}
	for _, it := range res.Items() {
		p.Tags = append(p.Tags, it.Tags...)
		if it.Kind == publish.KindImage && it.Arch != "" {
			p.Images[it.Arch] = it.Digest
		}
	}
	if err := (record.Store{Dir: stateDir}).SavePush(p); err != nil {
		return cli.Fail(fmt.Errorf("the push succeeded but its record was not written: %w", err))
	}
	return nil
}

// settings checks the flags against the configuration: the repository and the architectures.
func settings(opts *Options) (config.Config, []arch.Arch, error) {
	l, err := opts.Config()
	if err != nil {
		return config.Config{}, nil, err
	}
	cfg := l.Config
	if cfg.Repo == "" {
		return cfg, nil, cli.Usagef("no repository to push to: pass --repo REGISTRY/NAMESPACE/NAME or set repo in nixify.yaml (NIXIFY_REPO)")
	}
	if opts.StallTimeout <= 0 {
		return cfg, nil, cli.Usagef("invalid --request-timeout %s: accepted: a positive duration such as 30s or 2m", opts.StallTimeout)
	}
	archs, err := cli.ParseArchs(opts.Arch, cfg.Architectures)
	if err != nil {
		return cfg, nil, err
	}
	if archs == nil {
		archs = cfg.Architectures
	}
	return cfg, archs, nil
}

func publisher(opts *Options, repo string) (*publish.Publisher, error) {
	creds, err := credentials(opts)
	if err != nil {
		return nil, err
	}
	pub, err := publish.New(repo, publish.WithTags(opts.Tags...), publish.WithLatest(opts.Latest),
		publish.WithSource(publish.SourceFromEnv(opts.Getenv)), publish.WithoutIndex(opts.NoIndex), publish.WithForce(opts.Force),
		publish.WithRegistry(append([]registryclient.Option{registryclient.WithCredentials(creds), registryclient.WithRequestTimeout(opts.StallTimeout)}, opts.Client...)...))
	if err != nil {
		if errors.Is(err, registryclient.ErrUnreachable) {
			return nil, cli.Unavailable(err, "check the credential helper the docker config names (docker-credential-NAME get), or pass --username and --password-stdin")
		}
		return nil, cli.UsageError(err)
	}
	return pub, nil
}

// request gathers what the push ships: the last builds (with the commit they were built from), or
// with --index-from the images other jobs pushed. done closes the opened builds.
func request(ctx context.Context, opts *Options, cfg config.Config, archs []arch.Arch) (publish.Request, func(), error) {
	store := record.Store{Dir: cfg.StateDir}
	req := publish.Request{Built: newestBuild(store, archs)}
	if len(opts.IndexFrom) > 0 {
		refs, err := readRefs(opts.IndexFrom)
		if err != nil {
			return req, nil, err
		}
		req.Refs = refs
		rev, err := publish.ResolveRevision(ctx, opts.Getenv, opts.WorkDir)
		var envErr *publish.EnvError
		switch {
		case errors.As(err, &envErr):
			return req, nil, err
		case err == nil:
			req.Rev = &rev
		}
		return req, func() {}, nil
	}
	return buildsRequest(ctx, opts, cfg, archs, req)
}

// buildsRequest adds the last builds of archs to req, with the commit they were built from.
func buildsRequest(ctx context.Context, opts *Options, cfg config.Config, archs []arch.Arch, req publish.Request) (publish.Request, func(), error) {
	store := record.Store{Dir: cfg.StateDir}
	// The records first: a refused revision costs no reading of images.
	var builds []record.Build
	var built []publish.Built
	for _, a := range archs {
		b, err := shared.LastBuild(cfg.StateDir, a, "")
		if err != nil {
			return req, nil, err
		}
		builds = append(builds, b)
		built = append(built, publish.Built{Arch: a, Revision: b.FlakeRevision})
	}
	// The commit is compared with the flake's own checkout: build --flake ELSEWHERE is not about
	// the working directory's git. A record that names no flake was built from the default, ".".
	flake := cmp.Or(builds[0].Flake, ".")
	flakeDir, _ := nix.LocalFlakeDir(flake, opts.WorkDir)
	rev, err := publish.BuiltRevision(ctx, opts.Getenv, flakeDir, built, opts.Force)
	if err != nil {
		return req, nil, err
	}
	var imgs []*image.Image
	done := func() {
		for _, i := range imgs {
			i.Close()
		}
	}
	cache := image.NewLayerCache(state.Dir(cfg.StateDir).LayerCache())
	for _, b := range builds {
		set, err := image.Open(ctx, image.BuildRef(b), image.WithLayerCache(cache))
		if err != nil {
			done()
			return req, nil, cli.Fail(err)
		}
		img := set.Images[0]
		imgs = append(imgs, img)
		req.Images = append(req.Images, publish.Image{Arch: b.Arch, Image: img.V1})
	}
	if !opts.NoSBOM {
		req.Attach = attachments(opts, cfg.Repo, store)
	}
	req.Rev = rev
	return req, done, nil
}

// pushError gives each way a push fails its exit code and the way out.
func pushError(ctx context.Context, opts *Options, err error) error {
	var ee *cli.ExitError
	var re *publish.RevisionError
	var rep *publish.ReplaceError
	var moved *publish.TagMoveError
	var envErr *publish.EnvError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return cli.Failed(fmt.Errorf("the push did not finish within %s", opts.Timeout), "raise --timeout, or check the network to the registry")
	case ctx.Err() != nil:
		return ctx.Err() // interrupted, whatever step it stopped
	case errors.As(err, &ee):
		return err
	case errors.As(err, &envErr):
		return cli.UsageError(err)
	case errors.As(err, &re):
		return cli.Failed(err, "commit, build again (nixify build) and push; or pass --force to push it anyway")
	case errors.As(err, &rep):
		return cli.Failed(err, "push every architecture of the index, or use --no-index, or pass --force to replace it")
	case errors.As(err, &moved):
		return cli.Failed(err, "choose another --tag, or pass --force to move it")
	case errors.Is(err, publish.ErrNoTags):
		return cli.Failed(err, "pass --tag, or set GITHUB_REF_NAME and GITHUB_SHA")
	case errors.Is(err, registryclient.ErrUnreachable):
		return cli.Unavailable(err, "check the repository's host (--repo) and the network; is a registry running there?")
	case errors.Is(err, registryclient.ErrDenied):
		return cli.Failed(err, "for ghcr.io set GITHUB_TOKEN (packages: write) or docker login; elsewhere --username U --password-stdin")
	}
	return cli.Fail(err)
}

// execute runs the plan with a live progress view.
func execute(ctx context.Context, opts *Options, pub *publish.Publisher, plan *publish.Plan) (*publish.Result, error) {
	var archs []arch.Arch
	for _, it := range plan.Images {
		archs = append(archs, it.Arch)
	}
	// In GitHub Actions the upload's progress lines fold into one group; the result stays outside.
	endGroup := opts.IO.Group("push to " + plan.Repo)
	live := opts.IO.NewLive()
	res, err := pub.Push(ctx, plan, progress(live, opts.IO.Styles(), archs))
	if ctx.Err() != nil {
		live.Set() // interrupted: "interrupted" is the one line left, not a last progress line
	}
	live.Stop()
	endGroup()
	return res, err
}

// report prints what the push wrote (or, dry, would write): digest references on stdout (and in
// --image-refs), one line per manifest with its tags, and a closing line with the counts.
func report(opts *Options, res *publish.Result) error {
	if opts.ImageRefs != "" {
		// Replaced whole (a temporary file renamed over it): a CI step reading it, or a second
		// push writing it, never sees half a list.
		if err := atomicwriter.WriteFile(opts.ImageRefs, []byte(strings.Join(res.Refs(), "\n")+"\n"), 0o644); err != nil {
			return cli.Fail(fmt.Errorf("write --image-refs: %w", err))
		}
	}
	if opts.IO.WantsJSON() {
		return opts.IO.WriteJSON(res)
	}
	st, verb := opts.IO.Styles(), verbOf(res, "pushed", "would push")
	for _, it := range res.Items() {
		what := cmp.Or(it.Arch.String(), string(it.Kind))
		opts.IO.Printf("%s\n", it.Ref)
		// The tags on a line of their own: with them, the line overran 80 columns.
		if len(it.Tags) == 0 {
			opts.IO.Errorf("%s %s %s (no tags)\n", st.OK.Render(verb), what, st.Faint.Render(it.Digest[:19]))
			continue
		}
		opts.IO.Errorf("%s %s %s\n  tags: %s\n", st.OK.Render(verb), what, st.Faint.Render(it.Digest[:19]), strings.Join(it.Tags, ", "))
	}
	reportReferrers(opts, res)
	opts.IO.Errorf("%s\n", summary(res))
	return nil
}

// verbOf is what the lines say was done: done, dry in a dry run, or "in place" when nothing was
// written (done would claim otherwise).
func verbOf(res *publish.Result, done, dry string) string {
	switch {
	case res.DryRun:
		return dry
	case res.Stats != nil && res.Stats.Unchanged():
		return "in place"
	}
	return done
}

// summary is the closing line: what was uploaded and reused, or what a dry run would write.
func summary(res *publish.Result) string {
	var size int64
	tags := 0
	for _, it := range res.Items() {
		size += it.Size
		tags += len(it.Tags)
	}
	manifests := iostreams.Count(len(res.Images), "image", "images")
	if res.Index != nil {
		manifests += " and an index"
	}
	if res.DryRun {
		return fmt.Sprintf("dry run: %s (%s) and %s for %s; nothing was written", manifests, iostreams.Bytes(size), iostreams.Count(tags, "tag", "tags"), res.Repo)
	}
	s := res.Stats
	took := fmt.Sprintf("%.1fs", s.Seconds)
	if s.Unchanged() {
		return fmt.Sprintf("unchanged: %s, every tag in place (%s reused) in %s", manifests, iostreams.Count(s.BlobsReused, "blob", "blobs"), took)
	}
	attached := ""
	if s.ReferrersAttached > 0 {
		attached = ", " + iostreams.Count(s.ReferrersAttached, "document", "documents") + " attached"
	}
	tagsText := iostreams.Count(s.TagsMoved, "tag", "tags")
	if s.TagsUnchanged > 0 {
		tagsText += fmt.Sprintf(" (%d in place)", s.TagsUnchanged)
	}
	// One line that fits 80 columns for a usual push.
	return fmt.Sprintf("uploaded %s (%s), reused %d, %s, %s%s, %s in %s",
		iostreams.Count(s.BlobsUploaded, "blob", "blobs"), iostreams.Bytes(s.BytesUploaded), s.BlobsReused,
		iostreams.Count(s.ManifestsWritten, "manifest", "manifests"), iostreams.Count(s.IndexesWritten, "index", "indexes"),
		attached, tagsText, took)
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
	return newest
}

// readRefs reads the digest references that --image-refs files hold, one a line.
func readRefs(files []string) ([]string, error) {
	var refs []string
	for _, f := range files {
		data, err := readSmall(f, maxRefsFile)
		if err != nil {
			return nil, cli.Usagef("--index-from %s: %v", f, err)
		}
		for n, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			if _, err := name.NewDigest(line); err != nil {
				return nil, cli.Usagef("--index-from %s line %d: %.80q is not a digest reference: accepted: REPO@sha256:DIGEST, one a line, as --image-refs writes", f, n+1, line)
			}
			refs = append(refs, line)
		}
	}
	if len(refs) == 0 {
		return nil, cli.Usagef("--index-from: %s list no image references", strings.Join(files, ", "))
	}
	return refs, nil
}

// maxRefsFile bounds an --index-from file: an --image-refs file of a few architectures is a few
// hundred bytes.
const maxRefsFile = 1 << 20

// readSmall reads a file nixify did not write, refusing one larger than limit before reading it all.
func readSmall(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %s: not an --image-refs file", iostreams.Bytes(limit))
	}
	return data, nil
}

const maxPassword = 64 << 10

// credentials reads --password-stdin; the password is never echoed or logged.
func credentials(opts *Options) (*registryclient.Credentials, error) {
	if opts.PasswordStdin && opts.Username == "" {
		return nil, cli.Usagef("--password-stdin needs --username")
	}
	if opts.Username == "" {
		return nil, nil
	}
	if !opts.PasswordStdin {
		return nil, cli.Usagef("--username needs --password-stdin (passwords are not taken as flags)")
	}
	// At most 64 KiB (a token is a few KiB): stdin without a newline is not read to the end.
	line, err := bufio.NewReader(io.LimitReader(opts.IO.In, maxPassword+1)).ReadString('\n')
	line = strings.TrimRight(line, "\r\n")
	if len(line) > maxPassword {
		return nil, cli.Usagef("--password-stdin: the first line of stdin is longer than %s: not a password or token", iostreams.Bytes(maxPassword))
	}
	if line == "" {
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, cli.Fail(fmt.Errorf("read the password from stdin: %w", err))
		}
		return nil, cli.Usagef("--password-stdin: stdin is empty")
	}
	return &registryclient.Credentials{Username: opts.Username, Password: line}, nil
}

// progress draws one line per architecture: a bar with the bytes uploaded of the total.
func progress(live *iostreams.Live, st iostreams.Styles, archs []arch.Arch) publish.Progress {
	var mu sync.Mutex
	state := map[arch.Arch][2]int64{}
	return func(a arch.Arch, done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		state[a] = [2]int64{done, total}
		var lines []string
		for _, a := range archs {
			s, ok := state[a]
			if !ok || s[1] == 0 {
				lines = append(lines, fmt.Sprintf("  %-8s %s", a, st.Faint.Render("waiting")))
				continue
			}
			const width = 20
			n := min(int(s[0]*width/s[1]), width)
			lines = append(lines, fmt.Sprintf("%s %-8s [%s%s] %3d%%  %s of %s", live.Spinner(), a,
				strings.Repeat("=", n), strings.Repeat(" ", width-n), s[0]*100/s[1], iostreams.Bytes(s[0]), iostreams.Bytes(s[1])))
		}
		live.Set(lines...)
	}
}
