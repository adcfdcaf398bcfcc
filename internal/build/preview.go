package build

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nixify/nixify/internal/nix"
	"github.com/nixify/nixify/internal/record"
)

// Preview is what building one architecture would do, before it does it: what Nix would build and
// fetch (its dry run), with the time each derivation took when nixify last built one of its name.
type Preview struct {
	Plan    Plan
	Build   []Step
	Fetch   []Fetch
	Unknown []string // paths Nix can neither build nor fetch
	// The totals for Fetch: the caches' exact figures when every path has them, else Nix's.
	DownloadBytes, UnpackedBytes int64
	Seen                         time.Duration // the last build times of the derivations built before, summed
	New                          int           // derivations nixify has not seen built
	// SizesErr says why the fetches have no sizes of their own (Nix's totals still hold).
	SizesErr error
}

// Step is a derivation Nix would build.
type Step struct {
	Drv  string
	Name string        // the derivation's name, as the live view and its estimates know it
	Last time.Duration // how long its last build took; 0 when New
	New  bool          // nixify has not seen a derivation of this name built
}

// Fetch is a store path Nix would fetch from a binary cache.
type Fetch struct {
	Path, Name string
	Cache      string // the substituter that holds it; "" when none said
	// What the cache says it takes, 0 when it did not say.
	DownloadBytes, UnpackedBytes int64
}

// sizesTimeout bounds the per-path size lookups: they only add detail to Nix's totals.
const sizesTimeout = 30 * time.Second

// Previews asks Nix, for every architecture of o, what its build would build and fetch, and
// estimates the build time from the times kept in the state directory. It builds nothing.
func Previews(ctx context.Context, n *nix.Nix, o Options) ([]Preview, error) {
	n = readOnlyLock(n)
	plans, err := Choose(ctx, n, o)
	if err != nil {
		return nil, err
	}
	times := record.Store{Dir: o.StateDir}.Times()
	out := make([]Preview, len(plans))
	errs := make([]error, len(plans))
	var wg sync.WaitGroup
	for i, p := range plans {
		wg.Go(func() {
			m, err := n.DryRun(ctx, p.Installable)
			if err != nil {
				errs[i] = &Error{Plan: p, Err: err}
				return
			}
			out[i] = preview(p, m, times)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	addSizes(ctx, n, out)
	return out, nil
}

func preview(p Plan, m nix.Missing, times record.Times) Preview {
	pv := Preview{Plan: p, Unknown: m.Unknown, DownloadBytes: m.DownloadBytes, UnpackedBytes: m.UnpackedBytes}
	for _, d := range m.Build {
		s := Step{Drv: d, Name: nix.StoreName(strings.TrimSuffix(d, ".drv"))}
		if t, ok := times[s.Name]; ok {
			s.Last, pv.Seen = t, pv.Seen+t
		} else {
			s.New = true
			pv.New++
		}
		pv.Build = append(pv.Build, s)
	}
	for _, f := range m.Fetch {
		pv.Fetch = append(pv.Fetch, Fetch{Path: f, Name: nix.StoreName(f)})
	}
	return pv
}

// addSizes asks the binary caches what each path to fetch takes. It is detail on top of Nix's
// totals, so a failure is noted in the previews, not returned.
func addSizes(ctx context.Context, n *nix.Nix, pvs []Preview) {
	var paths []string
	for _, pv := range pvs {
		for _, f := range pv.Fetch {
			paths = append(paths, f.Path)
		}
	}
	if len(paths) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, sizesTimeout)
	defer cancel()
	note := func(err error) {
		for i := range pvs {
			if len(pvs[i].Fetch) > 0 {
				pvs[i].SizesErr = err
			}
		}
	}
	settings, err := n.Settings(ctx)
	if err != nil {
		note(fmt.Errorf("read nix settings: %w", err))
		return
	}
	subs, err := n.Substitutes(ctx, settings.Substituters, paths)
	if err != nil {
		note(err)
	}
	for i := range pvs {
		pv := &pvs[i]
		var dl, un int64
		all := true
		for j := range pv.Fetch {
			f := &pv.Fetch[j]
			s, ok := subs[f.Path]
			if !ok {
				all = false
				continue
			}
			f.Cache, f.DownloadBytes, f.UnpackedBytes = s.Cache, s.DownloadBytes, s.UnpackedBytes
			dl, un = dl+s.DownloadBytes, un+s.UnpackedBytes
		}
		// Nix rounds its totals to hundredths of a MiB; the caches' own figures are exact.
		if all && len(pv.Fetch) > 0 {
			pv.DownloadBytes, pv.UnpackedBytes = dl, un
		}
	}
}
