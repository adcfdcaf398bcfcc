package closure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/nixify/nixify/internal/nix"
)

// Input is what the builder knows when the image is built.
type Input struct {
	Closure // the build's facts: arch, system, paths, source, builder, times; Components and Layers are filled in

	// Layers as the image's history names them (store paths per layer), bottom first.
	ImageLayers []Layer
}

// Record reads the image's closure from the store. It costs three short nix calls (path-info,
// derivation show for the components and for their sources) and one evaluation for meta; the
// caller skips it when the output path is unchanged, since store paths are named by their inputs.
func Record(ctx context.Context, n *nix.Nix, in Input) (*Closure, error) {
	c := in.Closure
	c.Version = FormatVersion
	c.Layers = in.ImageLayers
	if c.Layers == nil {
		c.Layers = []Layer{}
	}
	c.Components = []Component{}
	var roots []string
	for _, l := range c.Layers {
		roots = append(roots, l.StorePaths...)
	}
	slices.Sort(roots)
	roots = slices.Compact(roots)
	if len(roots) == 0 {
		return &c, nil // not a Nix-layered image: nothing to name
	}
	// The meta evaluation (nixpkgs: seconds) runs alongside the store queries.
	type metaResult struct {
		metas []packageMeta
		err   error
	}
	metaCh := make(chan metaResult, 1)
	go func() {
		m, err := readMeta(ctx, n, in.Source.Installable)
		metaCh <- metaResult{m, err}
	}()
	infos, err := n.PathInfos(ctx, roots, true)
	if err != nil {
		return nil, fmt.Errorf("read the image's closure: %w", err)
	}

	drvs, err := n.Derivations(ctx, present(derivers(infos)))
	if err != nil {
		return nil, fmt.Errorf("read the derivations of the image's closure: %w", err)
	}
	byOut := map[string]*nix.Derivation{}
	for i := range drvs {
		for _, o := range drvs[i].Outputs {
			byOut[o.Path] = &drvs[i]
		}
	}
	sources, err := sourceDerivations(ctx, n, drvs)
	if err != nil {
		return nil, err
	}

	inClosure := map[string]bool{}
	for _, p := range infos {
		inClosure[p.Path] = true
	}
	for _, p := range infos {
		c.Components = append(c.Components, nixComponent(p, inClosure, byOut[p.Path], sources))
	}

	if m := <-metaCh; m.err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// Licences and homepages are a bonus nixpkgs gives when it can; the closure stands without.
		c.MetaError = m.err.Error()
	} else {
		applyMeta(m.metas, c.Components)
	}
	c.Components = append(c.Components, goModules(c.Components)...)
	sortComponents(c.Components)
	return &c, nil
}

// nixComponent describes one store path: Nix's name parsing first, then what its derivation says
// (pname and version as nixpkgs set them, the fetched source); references only within the closure.
func nixComponent(p nix.PathInfo, inClosure map[string]bool, d *nix.Derivation, sources map[string]*source) Component {
	comp := Component{Type: Nix, StorePath: p.Path, NarHash: nix.HexHash(p.NarHash), NarSize: p.NarSize, Deriver: p.Deriver}
	comp.Name, comp.Version = ParseName(StoreName(p.Path))
	for _, r := range p.References {
		if r != p.Path && inClosure[r] {
			comp.References = append(comp.References, r)
		}
	}
	if d == nil {
		return comp
	}
	if v := d.Env["pname"]; v != "" {
		comp.Name = v
		// A multi-output package's other outputs (lib, dev) keep their suffix.
		if out := outputName(d, p.Path); out != "out" && out != "" {
			comp.Name += "-" + out
		}
	}
	if v, ok := d.Env["version"]; ok && d.Env["pname"] != "" {
		comp.Version = v
	}
	if src := sources[d.Env["src"]]; src != nil {
		comp.SourceURL, comp.SourceAlgo, comp.SourceHash = src.url, src.algo, src.hash
	}
	return comp
}

func derivers(infos []nix.PathInfo) []string {
	var out []string
	for _, p := range infos {
		if p.Deriver != "" {
			out = append(out, p.Deriver)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// present keeps the store paths that exist: derivations of substituted paths may never have been
// in this store, and the garbage collector may have taken others.
func present(paths []string) []string {
	var out []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func outputName(d *nix.Derivation, p string) string {
	for name, o := range d.Outputs {
		if o.Path == p {
			return name
		}
	}
	return ""
}

type source struct{ url, algo, hash string }

// sourceDerivations finds, for each derivation's src, the fixed-output derivation that fetched it
// (fetchurl, fetchFromGitHub ...) and reads its URL and content hash.
func sourceDerivations(ctx context.Context, n *nix.Nix, drvs []nix.Derivation) (map[string]*source, error) {
	var want []string
	for _, d := range drvs {
		src := d.Env["src"]
		if !strings.HasPrefix(src, nix.StoreDir+"/") {
			continue
		}
		// The src's derivation is the input derivation of the same name.
		for _, in := range d.InputDrvs {
			if strings.TrimSuffix(StoreName(in), ".drv") == StoreName(src) {
				want = append(want, in)
			}
		}
	}
	slices.Sort(want)
	want = present(slices.Compact(want))
	srcDrvs, err := n.Derivations(ctx, want)
	if err != nil {
		return nil, fmt.Errorf("read the source derivations of the image's closure: %w", err)
	}
	out := map[string]*source{}
	for _, d := range srcDrvs {
		o, ok := d.Outputs["out"]
		if !ok {
			continue
		}
		s := &source{url: firstURL(d.Env), hash: o.Hash, algo: strings.TrimPrefix(o.HashAlgo, "r:")}
		if s.hash == "" {
			s.hash = nix.HexHash(d.Env["outputHash"])
			s.algo = d.Env["outputHashAlgo"]
		}
		if s.algo == "" && len(s.hash) == 64 {
			s.algo = "sha256"
		}
		out[o.Path] = s
	}
	return out, nil
}

// firstURL reads fetchurl's urls (space-separated, mirror:// first when it has them) or url,
// and fetchgit's url.
func firstURL(env map[string]string) string {
	for _, u := range strings.Fields(env["urls"]) {
		if !strings.HasPrefix(u, "mirror://") {
			return u
		}
	}
	if u := env["url"]; u != "" {
		return u
	}
	if us := strings.Fields(env["urls"]); len(us) > 0 {
		return us[0]
	}
	return ""
}

// metaExpr walks the packages the image definition names in passthru.contents (and their
// buildInputs and propagatedBuildInputs, a few levels down) and returns their meta for every
// output path; a licence without an SPDX identifier becomes LicenseRef-nixpkgs-<shortName>.
// nixpkgs keeps meta out of the derivation's environment, so only evaluation
// knows it; dockerTools does not keep its contents argument, hence the passthru convention.
const metaExpr = `img: let
  roots = img.passthru.contents or img.contents or [];
  isPkg = p: builtins.isAttrs p && p ? outPath;
  deps = p: builtins.filter isPkg ((p.buildInputs or []) ++ (p.propagatedBuildInputs or []));
  outs = p: map (o: p.${o}) (p.outputs or [ "out" ]);
  all = builtins.genericClosure {
    startSet = map (p: { key = toString p.outPath; inherit p; d = 0; }) (builtins.filter isPkg roots);
    operator = i: if i.d >= 3 then [] else map (p: { key = toString p.outPath; inherit p; d = i.d + 1; }) (deps i.p);
  };
  str = v: if builtins.isString v then v else if builtins.isList v && v != [] then str (builtins.head v) else "";
  lic = l: if builtins.isList l then builtins.concatMap lic l
    else if builtins.isAttrs l then [ (l.spdxId or (if l ? shortName then "LicenseRef-nixpkgs-" + l.shortName else "")) ]
    else if builtins.isString l then [ l ] else [];
  info = p: { license = builtins.filter (s: s != "") (lic (p.meta.license or [])); homepage = str (p.meta.homepage or ""); description = str (p.meta.description or ""); };
in builtins.concatMap (i: let m = info i.p; in map (o: { path = toString o.outPath; inherit (m) license homepage description; }) (outs i.p)) all`

// packageMeta is what metaExpr returns for one output path.
type packageMeta struct {
	Path        string   `json:"path"`
	License     []string `json:"license"`
	Homepage    string   `json:"homepage"`
	Description string   `json:"description"`
}

func readMeta(ctx context.Context, n *nix.Nix, installable string) ([]packageMeta, error) {
	if installable == "" {
		return nil, errors.New("no flake attribute to evaluate")
	}
	out, err := n.Eval(ctx, installable, metaExpr)
	if err != nil {
		return nil, fmt.Errorf("read meta of the image's packages: %w", err)
	}
	var metas []packageMeta
	if err := json.Unmarshal(out, &metas); err != nil {
		return nil, fmt.Errorf("read meta of the image's packages: %w", err)
	}
	return metas, nil
}

func applyMeta(metas []packageMeta, comps []Component) {
	byPath := map[string]int{}
	for i, m := range metas {
		byPath[m.Path] = i
	}
	for i := range comps {
		if j, ok := byPath[comps[i].StorePath]; ok {
			m := metas[j]
			comps[i].Licenses, comps[i].Homepage, comps[i].Description = m.License, m.Homepage, m.Description
			sort.Strings(comps[i].Licenses)
		}
	}
}

// storeBinaries lists the regular files in a store path's bin/, where Go programs live.
func storeBinaries(storePath string) []string {
	entries, err := os.ReadDir(filepath.Join(storePath, "bin"))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			out = append(out, "bin/"+e.Name())
		}
	}
	return out
}
