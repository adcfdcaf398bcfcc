package nix

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/nixify/nixify/internal/iostreams"
)

// Nix 2.8's build activities say which derivation builds, but not which one waits for it (its
// events have no parent). The derivations themselves say: a .drv file in the store lists the
// derivations it needs. A Graph reads them from the build's top derivation down, so that the view
// can show, above each running build, what waits on it.

// inputDrvRE finds the input derivations in a .drv file (ATerm): ("/nix/store/...drv",["out"]).
// Only inputDrvs entries have a store path followed by a list of output names.
var inputDrvRE = regexp.MustCompile(`\("(/[^"]+\.drv)",\[`)

// InputDrvs reads the derivations drvPath needs, from the .drv file in the store.
func InputDrvs(drvPath string) ([]string, error) {
	data, err := os.ReadFile(drvPath)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range inputDrvRE.FindAllSubmatch(data, -1) {
		out = append(out, string(m[1]))
	}
	return out, nil
}

// DrvPath is the derivation an installable builds; with flakes nix answers from its evaluation
// cache once the build has evaluated it.
func (n *Nix) DrvPath(ctx context.Context, installable string) (string, error) {
	out, err := n.run(ctx, "path-info", "--derivation", installable)
	if err != nil {
		return "", err
	}
	p := strings.TrimSpace(string(out))
	if !strings.HasSuffix(p, ".drv") {
		return "", fmt.Errorf("nix path-info --derivation %s: unexpected answer %q", installable, iostreams.FirstLine(p))
	}
	return p, nil
}

// Graph is the derivations below one or more top derivations, each with its inputs.
type Graph struct {
	roots  []string
	inputs map[string][]string
	users  map[string][]string // the reverse: which derivations need it
}

// LoadGraph reads the closure of derivations below roots. A nixpkgs image has a few thousand;
// each is a small file read once.
func LoadGraph(roots ...string) (*Graph, error) {
	g := &Graph{roots: roots, inputs: map[string][]string{}, users: map[string][]string{}}
	stack := append([]string(nil), roots...)
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, seen := g.inputs[d]; seen {
			continue
		}
		in, err := InputDrvs(d)
		if err != nil {
			return nil, err
		}
		g.inputs[d] = in
		for _, i := range in {
			g.users[i] = append(g.users[i], d)
		}
		stack = append(stack, in...)
	}
	return g, nil
}

// TreeNode is one line of the tree of running builds.
type TreeNode struct {
	Drv     string
	Depth   int  // 0 for a top derivation
	Running bool // false: it waits for builds below it
	Waits   int  // how many running builds below it it waits on
}

// Tree orders the running derivations under the derivations that wait on them, from the top
// derivations down: each waiting derivation once, at its first place, with the running builds it
// needs below it. A running derivation the graph does not know (another build's) is left out;
// callers show those flat.
func (g *Graph) Tree(running []string) []TreeNode {
	isRunning := map[string]bool{}
	for _, r := range running {
		if _, ok := g.inputs[r]; ok {
			isRunning[r] = true
		}
	}
	// below[d]: how many running derivations d waits on (itself, when it runs). A few builds run
	// at once, so walking up from each of them is cheap, unlike walking down from every node.
	below := map[string]int{}
	for r := range isRunning {
		seen := map[string]bool{r: true}
		queue := []string{r}
		for len(queue) > 0 {
			d := queue[0]
			queue = queue[1:]
			below[d]++
			for _, u := range g.users[d] {
				if !seen[u] {
					seen[u] = true
					queue = append(queue, u)
				}
			}
		}
	}
	var out []TreeNode
	placed := map[string]bool{}
	var walk func(d string, depth int)
	walk = func(d string, depth int) {
		if placed[d] || below[d] == 0 {
			return
		}
		placed[d] = true
		out = append(out, TreeNode{Drv: d, Depth: depth, Running: isRunning[d], Waits: below[d]})
		if isRunning[d] {
			return
		}
		in := append([]string(nil), g.inputs[d]...)
		sort.Slice(in, func(i, j int) bool { return StoreName(in[i]) < StoreName(in[j]) })
		for _, c := range in {
			walk(c, depth+1)
		}
	}
	for _, r := range g.roots {
		walk(r, 0)
	}
	return out
}
