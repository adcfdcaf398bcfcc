package info

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/nixify/nixify/internal/cli"
	nixclosure "github.com/nixify/nixify/internal/closure"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/spf13/cobra"
)

// The closure view (--closure, --top) lists the store paths an image holds, largest first; the
// budget (--max-size) fails the command when an image outgrows it, which is how the build workflow
// keeps the image inside 60 MiB.

// Closure is one image's store paths by size. A layer holding several store paths (past
// streamLayeredImage's maxLayers) is one entry: its paths share the layer's size.
type Closure struct {
	Image string             `json:"image"`
	Total int64              `json:"totalSize"`
	Paths []nixclosure.Layer `json:"paths"`
}

// addBudgetFlags adds the closure view's and the budget's flags.
func addBudgetFlags(cmd *cobra.Command, opts *Options) {
	cmd.Flags().BoolVar(&opts.Closure, "closure", false, "list the Nix store paths the image holds, largest first")
	cmd.Flags().IntVar(&opts.Top, "top", 0, "with --closure: only the N largest store paths (0: all)")
	cmd.Flags().StringVar(&opts.MaxSize, "max-size", "", "fail (exit 1) when an image is larger uncompressed, e.g. 60MiB")
}

// parseBudget checks the budget flags before anything is opened.
func parseBudget(opts *Options) (int64, error) {
	if opts.Top < 0 {
		return 0, cli.Usagef("invalid --top %d: want 0 (all) or a positive count", opts.Top)
	}
	if opts.MaxSize == "" {
		return 0, nil
	}
	max, err := iostreams.ParseBytes(opts.MaxSize)
	if err != nil || max == 0 {
		return 0, cli.Usagef("invalid --max-size %q: want a size such as 60MiB (KiB, MiB, GiB)", opts.MaxSize)
	}
	return max, nil
}

// closureOf groups an image's layers by the store paths in them, largest first. Layers that name
// no store path (the customisation layer with /etc and the symlinks) count as "(no store path)".
func closureOf(inf *image.Info) Closure {
	c := Closure{Image: imageName(inf), Paths: nixclosure.Layers(inf)}
	for _, l := range c.Paths {
		c.Total += l.Size
	}
	slices.SortStableFunc(c.Paths, func(a, b nixclosure.Layer) int { return cmp.Compare(b.Size, a.Size) })
	return c
}

func imageName(inf *image.Info) string {
	if inf.FiledUnder != "" {
		return inf.FiledUnder.String()
	}
	return inf.Source
}

// renderClosure prints each image's store paths, largest first, with their share of the image.
func renderClosure(io *iostreams.IOStreams, closures []Closure, top int) {
	st := io.Styles()
	for _, c := range closures {
		layers := "layers"
		if len(c.Paths) == 1 {
			layers = "layer"
		}
		io.Printf("\n%s %s, %s in %d %s\n", st.Bold.Render("store paths of"), c.Image, iostreams.Bytes(c.Total), len(c.Paths), layers)
		t := io.NewTable("size", "share", "store paths")
		for i, p := range c.Paths {
			if top > 0 && i == top {
				break
			}
			share := "-"
			if c.Total > 0 {
				share = fmt.Sprintf("%.1f%%", float64(p.Size)*100/float64(c.Total))
			}
			size := iostreams.Bytes(p.Size)
			if p.Compressed {
				size += " (compressed)"
			}
			paths := strings.Join(p.StorePaths, " ")
			if io.IsTTY() {
				paths = iostreams.Clip(storePaths(p.StorePaths), 50)
			}
			t.Row(size, share, cmp.Or(paths, "(no store path: files the image adds)"))
		}
		t.Render()
	}
}

// checkBudget fails when an image is larger than max uncompressed, naming the overshoot.
func checkBudget(rep Report, max int64) error {
	if max == 0 {
		return nil
	}
	var over []string
	for _, inf := range rep.Images {
		switch size := inf.UncompressedSize; {
		case size == 0:
			over = append(over, fmt.Sprintf("%s: its uncompressed size is unknown (a registry image: check its build)", imageName(inf)))
		case size > max:
			over = append(over, fmt.Sprintf("%s is %s uncompressed, %s over the %s budget",
				imageName(inf), iostreams.Bytes(size), iostreams.Bytes(size-max), iostreams.Bytes(max)))
		}
	}
	if len(over) == 0 {
		return nil
	}
	return cli.Failed(fmt.Errorf("image too large: %s", strings.Join(over, "; ")),
		"`nixify info --closure --top 10` lists the largest store paths")
}
