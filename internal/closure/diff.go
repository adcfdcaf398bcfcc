package closure

import (
	"fmt"

	"slices"
	"sort"
	"strings"

	"github.com/nixify/nixify/internal/image"
)

// Diff is what changed between two images, in the spirit of `nix store diff-closures`: packages
// by name, with their versions and sizes, and the layers' sizes.
type Diff struct {
	Added   []Entry       `json:"added"`
	Removed []Entry       `json:"removed"`
	Changed []Change      `json:"changed"`
	Layers  []LayerChange `json:"layers"`
	OldSize int64         `json:"oldSize"`
	NewSize int64         `json:"newSize"`
}

// Entry is a package found in one image only.
type Entry struct {
	Name     string   `json:"name"`
	Versions []string `json:"versions"`
	Size     int64    `json:"size"`
}

// Change is a package in both images whose versions or content differ ("postgresql 16.4 -> 16.6";
// the same versions on both sides mean it was rebuilt, e.g. with other dependencies).
type Change struct {
	Name        string   `json:"name"`
	OldVersions []string `json:"oldVersions"`
	NewVersions []string `json:"newVersions"`
	SizeDelta   int64    `json:"sizeDelta"`
}

// LayerChange is a layer of either image, named by the packages it holds.
type LayerChange struct {
	Name    string `json:"name"`
	OldSize int64  `json:"oldSize"`
	NewSize int64  `json:"newSize"`
}

type group struct {
	versions []string
	paths    []string
	size     int64
}

func groups(c *Closure) map[string]*group {
	out := map[string]*group{}
	for _, x := range c.Components {
		g := out[x.Key()]
		if g == nil {
			g = &group{versions: []string{}} // [] in JSON, not null
			out[x.Key()] = g
		}
		if x.Version != "" && !slices.Contains(g.versions, x.Version) {
			g.versions = append(g.versions, x.Version)
		}
		g.paths = append(g.paths, x.Ref()+" "+x.NarHash+" "+x.Sum)
		g.size += x.NarSize
	}
	for _, g := range out {
		sort.Strings(g.versions)
		sort.Strings(g.paths)
	}
	return out
}

// Compare tells what changed from old to new.
func Compare(old, new *Closure) Diff {
	d := Diff{Added: []Entry{}, Removed: []Entry{}, Changed: []Change{}, Layers: []LayerChange{}}
	og, ng := groups(old), groups(new)
	for name, n := range ng {
		o, ok := og[name]
		switch {
		case !ok:
			d.Added = append(d.Added, Entry{Name: name, Versions: n.versions, Size: n.size})
		case !slices.Equal(o.versions, n.versions) || !slices.Equal(o.paths, n.paths):
			d.Changed = append(d.Changed, Change{Name: name, OldVersions: o.versions, NewVersions: n.versions, SizeDelta: n.size - o.size})
		}
	}
	for name, o := range og {
		if _, ok := ng[name]; !ok {
			d.Removed = append(d.Removed, Entry{Name: name, Versions: o.versions, Size: o.size})
		}
	}
	sort.Slice(d.Added, func(i, j int) bool { return d.Added[i].Name < d.Added[j].Name })
	sort.Slice(d.Removed, func(i, j int) bool { return d.Removed[i].Name < d.Removed[j].Name })
	sort.Slice(d.Changed, func(i, j int) bool { return d.Changed[i].Name < d.Changed[j].Name })

	ol, nl := layerSizes(old), layerSizes(new)
	for name, n := range nl {
		if o, ok := ol[name]; !ok || o.size != n.size || o.content != n.content {
			d.Layers = append(d.Layers, LayerChange{Name: name, OldSize: o.size, NewSize: n.size})
		}
	}
	for name, o := range ol {
		if _, ok := nl[name]; !ok {
			d.Layers = append(d.Layers, LayerChange{Name: name, OldSize: o.size})
		}
	}
	sort.Slice(d.Layers, func(i, j int) bool { return d.Layers[i].Name < d.Layers[j].Name })
	d.OldSize, d.NewSize = total(old), total(new)
	return d
}

type layerSum struct {
	size    int64
	content string // the layers' diff IDs: a layer of the same size may hold other bytes
}

// layerSizes names each layer by the packages of its store paths (a layer of another image
// holding the same packages is "the same layer"), with its size and content.
func layerSizes(c *Closure) map[string]layerSum {
	out := map[string]layerSum{}
	for i, l := range c.Layers {
		var names []string
		for _, p := range l.StorePaths {
			n, _ := ParseName(StoreName(p))
			names = append(names, n)
		}
		sort.Strings(names)
		name := strings.Join(names, "+")
		if name == "" {
			name = fmt.Sprintf("layer %d (no store path)", i+1)
		}
		s := out[name]
		s.size += l.Size
		s.content += l.DiffID
		out[name] = s
	}
	return out
}

func total(c *Closure) int64 {
	var n int64
	for _, l := range c.Layers {
		n += l.Size
	}
	if n == 0 {
		return c.Size()
	}
	return n
}

// FromLayers makes a closure of an image that has no record (a tarball, a registry image) from
// the store paths its layers' history names: names and versions are read from the store paths,
// and a layer's size is counted to its store path when it holds only one.
func FromLayers(layers []Layer) *Closure {
	c := &Closure{Version: FormatVersion, Layers: layers, Components: []Component{}}
	for _, l := range layers {
		for _, p := range l.StorePaths {
			comp := Component{Type: Nix, StorePath: p}
			comp.Name, comp.Version = ParseName(StoreName(p))
			if len(l.StorePaths) == 1 {
				comp.NarSize = l.Size
			}
			c.Components = append(c.Components, comp)
		}
	}
	sortComponents(c.Components)
	return c
}

// Layers is the one summary of an image's layers (info --closure, info --diff, the SBOM of a
// file, the closure record): the store paths each holds and its size, uncompressed where the
// source tells it, else as the registry stores it.
func Layers(info *image.Info) []Layer {
	out := make([]Layer, 0, len(info.Layers))
	for _, l := range info.Layers {
		ly := Layer{DiffID: l.DiffID, Size: l.Size, StorePaths: l.StorePaths}
		if ly.Size == 0 && l.CompressedSize > 0 {
			ly.Size, ly.Compressed = l.CompressedSize, true
		}
		if ly.StorePaths == nil {
			ly.StorePaths = []string{}
		}
		out = append(out, ly)
	}
	return out
}
