package closure

import (
	"debug/buildinfo"
	"path/filepath"
)

// goModules reads the build information Go writes into every binary it links (what
// `go version -m` prints) from the executables in each store path's bin/: the main module and
// every dependency module, with its version and go.sum hash. A replaced module is recorded as
// its replacement, which is what was compiled in.
func goModules(comps []Component) []Component {
	var out []Component
	for _, c := range comps {
		if c.Type != Nix {
			continue
		}
		for _, bin := range storeBinaries(c.StorePath) {
			bi, err := buildinfo.ReadFile(filepath.Join(c.StorePath, bin))
			if err != nil {
				continue // not a Go binary
			}
			if bi.Main.Path != "" {
				v := bi.Main.Version
				if v == "(devel)" || v == "" {
					// buildGoModule builds from a source tree, not a module version: the package's
					// version is the one that says which source it was.
					v = c.Version
				}
				out = append(out, Component{Type: Golang, Name: bi.Main.Path, Version: v, Sum: bi.Main.Sum, In: c.StorePath, Binary: bin, Main: true})
			}
			for _, d := range bi.Deps {
				if d.Replace != nil {
					d = d.Replace
				}
				out = append(out, Component{Type: Golang, Name: d.Path, Version: d.Version, Sum: d.Sum, In: c.StorePath, Binary: bin})
			}
		}
	}
	return out
}
