// Package build turns the flake into images: it chooses per architecture how this host can build
// it (native, emulated, remote builder or cross), runs nix, reads the image each output holds and
// records the result, so that run, info and push use the last build without rebuilding. It knows
// Nix and nothing of the Docker engine or registries.
package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/nix"
	"github.com/nixify/nixify/internal/record"
	"github.com/nixify/nixify/internal/state"
)

// Options say what to build and where to keep the record.
type Options struct {
	Flake    string // flake reference, e.g. "." or "github:owner/repo"
	Attr     string // package attribute, e.g. docker-image-static
	Archs    []arch.Arch
	StateDir string // where the record and the result links live

	// OnEvent receives every nix event of the build, from several goroutines at once when
	// several architectures build together (nix.Monitor is safe for that).
	OnEvent func(*nix.Event)
	// OnPlan hears, before building, how each architecture will be built.
	OnPlan func(Plan)

	HostSystem string // override of the host's system (tests); empty: ask Go, then nix
	Proc       string // /proc, for binfmt (tests)
}

// Result is one architecture's build.
type Result struct {
	Plan   Plan         `json:"plan"`
	Record record.Build `json:"record"`
}

// Run builds every architecture of o concurrently (one nix process each, one event stream) and
// records each result. It needs nix: see nix.Find.
func Run(ctx context.Context, n *nix.Nix, o Options) ([]Result, error) {
	n = readOnlyLock(n)
	plans, err := Choose(ctx, n, o)
	if err != nil {
		return nil, err
	}
	for _, p := range plans {
		if o.OnPlan != nil {
			o.OnPlan(p)
		}
	}
	// The flake's metadata (revision, narHash) is read alongside the build: on a no-op build
	// both take about as long, so this costs no time.
	var meta nix.Metadata
	var metaErr error
	var wg sync.WaitGroup
	wg.Go(func() { meta, metaErr = n.FlakeMetadata(ctx, o.Flake) })

	lock := &lockWatch{next: o.OnEvent}
	results := make([]Result, len(plans))
	errs := make([]error, len(plans))
	for i, p := range plans {
		wg.Go(func() {
			start := time.Now().UTC()
			res, err := n.Build(ctx, p.Installable, lock.event)
			if err != nil {
				errs[i] = &Error{Plan: p, Err: err}
				return
			}
			results[i] = Result{Plan: p, Record: record.Build{
				Arch: p.Arch, System: p.System, Flake: o.Flake, Attr: o.Attr, Installable: p.Installable,
				Cross: p.Strategy == Cross, DrvPath: res.DrvPath, OutPath: res.Outputs["out"],
				Duration: time.Since(start), Strategy: string(p.Strategy), StartedAt: start,
			}}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if metaErr != nil {
		return nil, fmt.Errorf("read flake metadata: %w", metaErr)
	}

	store := record.Store{Dir: o.StateDir}
	previous, _ := store.All()
	for i := range results {
		b := &results[i].Record
		b.FlakeRevision, b.FlakeHash, b.BuiltAt = meta.Revision, meta.Locked.NarHash, time.Now().UTC()
		if lock.unlocked.Load() {
			b.FlakeRevision = "" // built as dirty: its inputs have no committed lock
		}
		a, err := describe(ctx, b, previous)
		if err != nil {
			return nil, err
		}
		if err := recordClosure(ctx, n, o, results[i].Plan, b, a, meta, previous); err != nil {
			return nil, err
		}
		if err := addRoot(o.StateDir, b); err != nil {
			return nil, err
		}
		if err := store.Save(*b); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// Error is one architecture's failed build.
type Error struct {
	Plan Plan
	Err  error
}

func (e *Error) Error() string {
	var ne *nix.Error
	if errors.As(e.Err, &ne) && ne.Kind == nix.MissingAttribute {
		// Nix lists every prefix it tried, which for a full attribute path reads as nonsense.
		flake, attr, _ := strings.Cut(e.Plan.Installable, "#")
		msg := fmt.Sprintf("build %s: flake %s does not provide attribute %s", e.Plan.Arch, flake, attr)
		if s := ne.Suggestion(); s != "" {
			msg += "; " + s
		}
		return msg
	}
	return fmt.Sprintf("build %s (%s): %v", e.Plan.Arch, e.Plan.Strategy, e.Err)
}
func (e *Error) Unwrap() error { return e.Err }

// describe fills in the kind, image config digest, tag and size of a build's output. An output
// path already described in the record is the same image (store paths are named by their inputs),
// so a no-op rebuild reads nothing (and the archive it returns is nil).
func describe(ctx context.Context, b *record.Build, previous []record.Build) (*image.Archive, error) {
	for _, p := range previous {
		if p.OutPath == b.OutPath && p.ConfigDigest != "" {
			b.Kind, b.ConfigDigest, b.RepoTag, b.Size = p.Kind, p.ConfigDigest, p.RepoTag, p.Size
			return nil, nil
		}
	}
	ref, err := image.Parse(b.OutPath, *b)
	if err != nil {
		return nil, fmt.Errorf("build output: %w", err)
	}
	set, err := image.Open(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("read the image built for %s: %w", b.Arch, err)
	}
	defer set.Close()
	a, err := set.Images[0].Scan()
	if err != nil {
		return nil, fmt.Errorf("read the image built for %s: %w", b.Arch, err)
	}
	kind := record.Tarball
	if ref.Kind == image.FromStream {
		kind = record.Stream
	}
	b.Kind = kind
	b.ConfigDigest, b.Size = a.ConfigDigest, a.ReadBytes
	if kind == record.Tarball {
		if st, err := os.Stat(b.OutPath); err == nil {
			b.Size = st.Size()
		}
	}
	if len(a.RepoTags) > 0 {
		b.RepoTag = a.RepoTags[0]
	}
	return a, nil
}

// Needed reports whether the flake changed since the last build of each architecture, or
// whether one has no usable build; reason says why in a few words. `nixify up` calls it.
func Needed(ctx context.Context, n *nix.Nix, o Options) (bool, string, error) {
	n = readOnlyLock(n)
	store := record.Store{Dir: o.StateDir}
	var last []record.Build
	for _, a := range o.Archs {
		b, err := store.Latest(a)
		if errors.Is(err, record.ErrNoBuild) {
			return true, "no build of " + a.String() + " yet", nil
		}
		if err != nil {
			return false, "", err
		}
		if b.Flake != o.Flake || b.Attr != o.Attr {
			return true, fmt.Sprintf("the last %s build was of %s#%s", a, b.Flake, b.Attr), nil
		}
		last = append(last, b)
	}
	meta, err := n.FlakeMetadata(ctx, o.Flake)
	if err != nil {
		return false, "", fmt.Errorf("read flake metadata: %w", err)
	}
	for _, b := range last {
		if b.FlakeHash == "" || b.FlakeHash != meta.Locked.NarHash {
			return true, "the flake changed since the last " + b.Arch.String() + " build", nil
		}
	}
	return false, "the flake is unchanged since the last build", nil
}

// addRoot points the result link at the output and registers it as an indirect garbage-collector
// root, as `nix build --out-link` would; without permission to register (a multi-user Nix as an
// ordinary user) the link still helps a person find the output.
func addRoot(stateDir string, b *record.Build) error {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	link, err := filepath.Abs(state.Dir(stateDir).Result(b.Arch))
	if err != nil {
		return err
	}
	if cur, err := os.Readlink(link); err != nil || cur != b.OutPath {
		tmp := link + ".tmp"
		_ = os.Remove(tmp)
		if err := os.Symlink(b.OutPath, tmp); err != nil {
			return fmt.Errorf("link build result: %w", err)
		}
		if err := os.Rename(tmp, link); err != nil {
			return fmt.Errorf("link build result: %w", err)
		}
	}
	storeDir := filepath.Dir(b.OutPath)
	if !strings.HasSuffix(storeDir, "/store") {
		return nil
	}
	auto := filepath.Join(filepath.Dir(storeDir), "var", "nix", "gcroots", "auto")
	root := filepath.Join(auto, rootName(link))
	if cur, err := os.Readlink(root); err == nil && cur == link {
		return nil
	}
	_ = os.Symlink(link, root) // best effort, see above
	return nil
}

// rootName is a stable file name for a link in gcroots/auto.
func rootName(link string) string {
	r := strings.NewReplacer("/", "-", " ", "_")
	return "nixify" + r.Replace(link)
}
