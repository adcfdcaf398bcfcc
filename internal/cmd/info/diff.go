package info

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/cli"
	nixclosure "github.com/nixify/nixify/internal/closure"
	"github.com/nixify/nixify/internal/iostreams"
)

// DiffReport is `info --diff -o json`: one comparison per architecture.
type DiffReport struct {
	Diffs []ArchDiff `json:"diffs"`
}

// ArchDiff compares the images of one architecture.
type ArchDiff struct {
	Arch         string `json:"-"`                      // Nix's name, for the text
	Architecture string `json:"architecture,omitempty"` // OCI's name, for JSON
	Old          string `json:"old"`
	New          string `json:"new"`
	nixclosure.Diff
}

// diffRun compares two images, in the spirit of `nix store diff-closures`: packages added,
// removed and changed (with versions), per-layer sizes and the total. With no source it compares
// the last two builds of each architecture from their closure records; with two, any two image
// sources info reads (names and versions then come from the store paths their layers name).
func diffRun(ctx context.Context, opts *Options, archs []arch.Arch, sources []string) error {
	var rep DiffReport
	var err error
	switch len(sources) {
	case 0:
		rep, err = diffBuilds(opts, archs)
	case 2:
		rep, err = diffSources(ctx, opts, archs, sources[0], sources[1])
	default:
		return cli.Usagef("--diff takes two image sources (OLD NEW), or none for the last two builds")
	}
	if err != nil {
		return err
	}
	if opts.IO.WantsJSON() {
		return opts.IO.WriteJSON(rep)
	}
	renderDiff(opts.IO, rep)
	return nil
}

func diffBuilds(opts *Options, archs []arch.Arch) (DiffReport, error) {
	l, err := opts.Config()
	if err != nil {
		return DiffReport{}, err
	}
	if len(archs) == 0 {
		archs = l.Config.Architectures
	}
	store := nixclosure.In(l.Config.StateDir)
	rep := DiffReport{Diffs: []ArchDiff{}}
	var short []string
	for _, a := range archs {
		hist, err := store.History(a.String())
		if err != nil {
			return rep, cli.Fail(err)
		}
		if len(hist) < 2 {
			short = append(short, fmt.Sprintf("%s has %d", a, len(hist)))
			continue
		}
		rep.Diffs = append(rep.Diffs, ArchDiff{Arch: a.String(), Architecture: a.GOARCH(), Old: hist[1].OutPath, New: hist[0].OutPath, Diff: nixclosure.Compare(hist[1], hist[0])})
	}
	if len(rep.Diffs) == 0 {
		return rep, cli.Failed(fmt.Errorf("no two recorded builds to compare (%s)", strings.Join(short, ", ")),
			"build again after a change (nixify build), or compare two images: nixify info --diff OLD NEW")
	}
	return rep, nil
}

func diffSources(ctx context.Context, opts *Options, archs []arch.Arch, oldSrc, newSrc string) (DiffReport, error) {
	side := func(src string) (map[string]*nixclosure.Closure, map[string]string, error) {
		o := *opts
		o.Source = src
		set, err := open(ctx, &o, archs)
		if err != nil {
			return nil, nil, err
		}
		defer set.Close()
		infos, err := describe(set, archs)
		if err != nil {
			return nil, nil, err
		}
		byArch, names := map[string]*nixclosure.Closure{}, map[string]string{}
		for _, inf := range infos {
			a := arch.FromOCI(inf.Architecture).String()
			byArch[a], names[a] = nixclosure.FromLayers(nixclosure.Layers(inf)), inf.Source
		}
		return byArch, names, nil
	}
	olds, oldNames, err := side(oldSrc)
	if err != nil {
		return DiffReport{}, err
	}
	news, newNames, err := side(newSrc)
	if err != nil {
		return DiffReport{}, err
	}
	rep := DiffReport{Diffs: []ArchDiff{}}
	for _, known := range arch.All {
		a := known.String()
		o, n := olds[a], news[a]
		if o == nil || n == nil {
			continue
		}
		rep.Diffs = append(rep.Diffs, ArchDiff{Arch: a, Architecture: arch.Arch(a).GOARCH(), Old: oldNames[a], New: newNames[a], Diff: nixclosure.Compare(o, n)})
	}
	if len(rep.Diffs) == 0 && len(olds) == 1 && len(news) == 1 {
		// One image each, of different architectures: compare them all the same.
		for a, o := range olds {
			for b, n := range news {
				rep.Diffs = append(rep.Diffs, ArchDiff{Arch: a + " -> " + b, Architecture: arch.Arch(a).GOARCH() + " -> " + arch.Arch(b).GOARCH(), Old: oldNames[a], New: newNames[b], Diff: nixclosure.Compare(o, n)})
			}
		}
	}
	if len(rep.Diffs) == 0 {
		return rep, cli.Failed(errors.New("the two sources have no architecture in common"), "choose one with --arch")
	}
	return rep, nil
}

// renderDiff prints one block per architecture: changed, added and removed packages with their
// versions and size change, then the layers whose size changed, then the total.
func renderDiff(io *iostreams.IOStreams, rep DiffReport) {
	st := io.Styles()
	for i, d := range rep.Diffs {
		if i > 0 {
			io.Printf("\n")
		}
		io.Printf("%s\n  %s %s\n  %s %s\n", st.Bold.Render(cmp.Or(d.Arch, "image")), st.Faint.Render("old"), d.Old, st.Faint.Render("new"), d.New)
		if len(d.Changed)+len(d.Added)+len(d.Removed) == 0 {
			io.Printf("  %s\n", st.Faint.Render("the same packages"))
		}
		for _, c := range d.Changed {
			old, cur := strings.Join(c.OldVersions, ", "), strings.Join(c.NewVersions, ", ")
			what := old + " -> " + cur
			if old == cur {
				what = cmp.Or(cur, "-") + " (rebuilt)"
			}
			io.Printf("  %s %-28s %-28s %s\n", " ", c.Name, what, signed(c.SizeDelta))
		}
		for _, e := range d.Added {
			io.Printf("  %s %-28s %-28s %s\n", st.OK.Render("+"), e.Name, cmp.Or(strings.Join(e.Versions, ", "), "-"), signed(e.Size))
		}
		for _, e := range d.Removed {
			io.Printf("  %s %-28s %-28s %s\n", st.Fail.Render("-"), e.Name, cmp.Or(strings.Join(e.Versions, ", "), "-"), signed(-e.Size))
		}
		if len(d.Layers) > 0 {
			io.Printf("  %s\n", st.Faint.Render("layers"))
			for _, l := range d.Layers {
				io.Printf("    %-40s %10s -> %-10s %s\n", l.Name, iostreams.Bytes(l.OldSize), iostreams.Bytes(l.NewSize), signed(l.NewSize-l.OldSize))
			}
		}
		io.Printf("  total %s -> %s (%s)\n", iostreams.Bytes(d.OldSize), iostreams.Bytes(d.NewSize), signed(d.NewSize-d.OldSize))
	}
}

func signed(n int64) string {
	if n < 0 {
		return "-" + iostreams.Bytes(-n)
	}
	return "+" + iostreams.Bytes(n)
}
