package nix

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync/atomic"
)

// The store queries below use commands that Nix 2.8 (Debian 12) and current Nix both have, and
// read either JSON shape:
//
//   - `nix path-info --json`: a list of objects with "path" up to Nix 2.18; from 2.19 an object
//     keyed by store path (null for an invalid path); from 2.33 the keys, references and deriver
//     may be base names without the store directory, and narHash may be an object.
//   - `nix show-derivation` (2.8) was renamed `nix derivation show` (2.15); the old name went
//     away later. Both print an object keyed by .drv path; inputDrvs maps to a list of outputs up
//     to 2.17 and to {"outputs": [...]} after; format version 3 and later drop the store
//     directory from paths, version 4 moves inputs under "inputs". Fixed-output hashes are
//     base-16 in outputs.*.hash everywhere; env carries what the expression gave.

// PathInfo is one store object.
type PathInfo struct {
	Path       string   `json:"path"`
	NarHash    string   `json:"narHash"` // as nix printed it: sha256-<base64> or sha256:<base32>
	NarSize    int64    `json:"narSize"`
	References []string `json:"references"`
	Deriver    string   `json:"deriver,omitempty"`
	// A binary cache's answer also says what the compressed archive takes to download.
	DownloadSize int64 `json:"downloadSize,omitempty"`
}

// StoreDir is where store paths live; nix prints base names relative to it in newer formats.
const StoreDir = "/nix/store"

// PathInfos returns what the store knows of paths, and of their closure when recursive. Paths
// are returned sorted.
func (n *Nix) PathInfos(ctx context.Context, paths []string, recursive bool) ([]PathInfo, error) {
	if len(paths) == 0 {
		return []PathInfo{}, nil
	}
	args := []string{"path-info", "--json"}
	if recursive {
		args = append(args, "--recursive")
	}
	out, err := n.run(ctx, append(args, paths...)...)
	if err != nil {
		return nil, err
	}
	infos, err := ParsePathInfos(out)
	if err != nil {
		return nil, fmt.Errorf("nix path-info: %w", err)
	}
	return infos, nil
}

// ParsePathInfos reads `nix path-info --json` of any Nix version; a path the store does not hold
// is an error.
func ParsePathInfos(data []byte) ([]PathInfo, error) {
	infos, invalid, err := parsePathInfos(data)
	if err == nil && len(invalid) > 0 {
		return nil, fmt.Errorf("path %s is not valid in the store", invalid[0])
	}
	return infos, err
}

// parsePathInfos reads `nix path-info --json` of any Nix version, and the paths the store does
// not hold: {"path", "valid": false} in the list up to 2.18 (a binary cache's answer), null in the
// object from 2.19.
func parsePathInfos(data []byte) (infos []PathInfo, invalid []string, err error) {
	type raw struct {
		Path         string          `json:"path"`
		Valid        *bool           `json:"valid"`
		NarHash      json.RawMessage `json:"narHash"`
		NarSize      int64           `json:"narSize"`
		DownloadSize int64           `json:"downloadSize"`
		References   []string        `json:"references"`
		Deriver      *string         `json:"deriver"`
		StoreDir     string          `json:"storeDir"`
	}
	add := func(key string, r *raw) {
		if r == nil {
			invalid = append(invalid, absStore(StoreDir, key))
			return
		}
		if r.Valid != nil && !*r.Valid {
			invalid = append(invalid, absStore(StoreDir, cmp.Or(r.Path, key)))
			return
		}
		dir := cmp.Or(r.StoreDir, StoreDir)
		p := PathInfo{Path: absStore(dir, cmp.Or(r.Path, key)), NarSize: r.NarSize, NarHash: narHash(r.NarHash),
			References: []string{}, DownloadSize: r.DownloadSize}
		for _, ref := range r.References {
			p.References = append(p.References, absStore(dir, ref))
		}
		sort.Strings(p.References)
		if r.Deriver != nil && *r.Deriver != "" {
			p.Deriver = absStore(dir, *r.Deriver)
		}
		infos = append(infos, p)
	}
	var list []*raw
	if err := json.Unmarshal(data, &list); err == nil {
		for _, r := range list {
			add("", r)
		}
	} else {
		var m map[string]*raw
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, nil, fmt.Errorf("unexpected output: %w", err)
		}
		for k, r := range m {
			add(k, r)
		}
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Path < infos[j].Path })
	return infos, invalid, nil
}

// narHash reads "sha256-..." / "sha256:..." or the object form {"algorithm","format","hash"}.
func narHash(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Algorithm string `json:"algorithm"`
		Hash      string `json:"hash"`
	}
	if json.Unmarshal(raw, &o) == nil && o.Hash != "" {
		if strings.Contains(o.Hash, "-") || strings.Contains(o.Hash, ":") {
			return o.Hash
		}
		return o.Algorithm + ":" + o.Hash
	}
	return ""
}

// Derivation is what nixify reads of a store derivation.
type Derivation struct {
	Path      string            `json:"path"`
	Outputs   map[string]Output `json:"outputs"`
	InputDrvs []string          `json:"inputDrvs"`
	System    string            `json:"system"`
	Env       map[string]string `json:"env"`
}

// Output is one output of a derivation; HashAlgo and Hash are set for fixed-output derivations.
type Output struct {
	Path     string `json:"path,omitempty"`
	HashAlgo string `json:"hashAlgo,omitempty"` // e.g. sha256, r:sha256 (recursive: a NAR hash)
	Hash     string `json:"hash,omitempty"`     // base-16
}

// derivationShow remembers which spelling of the command this nix knows: 0 unknown, 1 new
// (`derivation show`), 2 old (`show-derivation`).
var derivationShow atomic.Int32

// Derivations returns the store derivations at drvPaths (not their dependencies).
func (n *Nix) Derivations(ctx context.Context, drvPaths []string) ([]Derivation, error) {
	if len(drvPaths) == 0 {
		return []Derivation{}, nil
	}
	var out []byte
	var err error
	if derivationShow.Load() != 2 {
		out, err = n.run(ctx, append([]string{"derivation", "show"}, drvPaths...)...)
		if err == nil {
			derivationShow.Store(1)
		} else if notACommand(err) {
			derivationShow.Store(2)
		} else {
			return nil, err
		}
	}
	if derivationShow.Load() == 2 {
		if out, err = n.run(ctx, append([]string{"show-derivation"}, drvPaths...)...); err != nil {
			return nil, err
		}
	}
	drvs, err := ParseDerivations(out)
	if err != nil {
		return nil, fmt.Errorf("nix derivation show: %w", err)
	}
	return drvs, nil
}

func notACommand(err error) bool {
	var ne *Error
	return errors.As(err, &ne) && strings.Contains(ne.Message.Text, "is not a recognised command")
}

// ParseDerivations reads `nix derivation show` / `nix show-derivation` of any Nix version.
func ParseDerivations(data []byte) ([]Derivation, error) {
	type rawOut struct {
		Path     string `json:"path"`
		HashAlgo string `json:"hashAlgo"`
		Method   string `json:"method"`
		Hash     string `json:"hash"`
	}
	type raw struct {
		Outputs   map[string]rawOut          `json:"outputs"`
		InputDrvs map[string]json.RawMessage `json:"inputDrvs"`
		Inputs    struct {
			Drvs map[string]json.RawMessage `json:"drvs"`
		} `json:"inputs"`
		System   string            `json:"system"`
		Platform string            `json:"platform"`
		Env      map[string]string `json:"env"`
	}
	var m map[string]raw
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("unexpected output: %w", err)
	}
	// Version 3+ wraps the derivations in {"derivations": {...}, "version": N} in some releases.
	if d, ok := m["derivations"]; ok && d.Env == nil {
		var w struct {
			Derivations map[string]raw `json:"derivations"`
		}
		if err := json.Unmarshal(data, &w); err == nil {
			m = w.Derivations
		}
	}
	out := make([]Derivation, 0, len(m))
	for k, r := range m {
		d := Derivation{Path: absStore(StoreDir, k), Outputs: map[string]Output{}, Env: r.Env, System: cmp.Or(r.System, r.Platform), InputDrvs: []string{}}
		if d.Env == nil {
			d.Env = map[string]string{}
		}
		for name, o := range r.Outputs {
			algo := o.HashAlgo
			if o.Method == "nar" && !strings.HasPrefix(algo, "r:") && algo != "" {
				algo = "r:" + algo
			}
			hash := o.Hash
			if hash != "" {
				hash = HexHash(hash)
			}
			p := o.Path
			if p != "" {
				p = absStore(StoreDir, p)
			}
			d.Outputs[name] = Output{Path: p, HashAlgo: algo, Hash: hash}
		}
		inputs := r.InputDrvs
		if len(inputs) == 0 {
			inputs = r.Inputs.Drvs
		}
		for in := range inputs {
			d.InputDrvs = append(d.InputDrvs, absStore(StoreDir, in))
		}
		sort.Strings(d.InputDrvs)
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func absStore(dir, p string) string {
	if p == "" || strings.HasPrefix(p, "/") {
		return p
	}
	return path.Join(dir, p)
}

// HexHash turns a hash as Nix writes it (base-16, Nix base-32, SRI base-64, with or without an
// "algo:"/"algo-" prefix) into base-16, or "" when it cannot be read.
func HexHash(h string) string {
	if _, rest, ok := strings.Cut(h, ":"); ok {
		h = rest
	} else if algo, rest, ok := strings.Cut(h, "-"); ok && (algo == "sha256" || algo == "sha512" || algo == "sha1") {
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return ""
		}
		return hex.EncodeToString(b)
	}
	switch len(h) {
	case 64, 128, 40: // base-16 sha256, sha512, sha1
		if _, err := hex.DecodeString(h); err == nil {
			return strings.ToLower(h)
		}
	case 52, 103, 32: // Nix base-32 of 32, 64, 20 bytes
		if b, ok := nixBase32(h); ok {
			return hex.EncodeToString(b)
		}
	case 44, 88, 28: // base-64 of 32, 64, 20 bytes
		if b, err := base64.StdEncoding.DecodeString(h); err == nil {
			return hex.EncodeToString(b)
		}
	}
	return ""
}

const nixBase32Chars = "0123456789abcdfghijklmnpqrsvwxyz"

// nixBase32 decodes Nix's base-32 (its own alphabet, least significant digit last).
func nixBase32(s string) ([]byte, bool) {
	n := len(s) * 5 / 8
	out := make([]byte, n)
	for i := 0; i < len(s); i++ {
		c := s[len(s)-1-i]
		d := strings.IndexByte(nixBase32Chars, c)
		if d < 0 {
			return nil, false
		}
		b := i * 5
		j, k := b/8, b%8
		if j < n {
			out[j] |= byte(d << k)
		}
		if j+1 < n {
			out[j+1] |= byte(d >> (8 - k))
		} else if d>>(8-k) != 0 {
			return nil, false
		}
	}
	return out, true
}

// Eval evaluates installable, applies the Nix function apply to it, and returns the JSON.
func (n *Nix) Eval(ctx context.Context, installable, apply string) ([]byte, error) {
	return n.run(ctx, append(append([]string{"eval"}, n.LockFlags...), "--json", installable, "--apply", apply)...)
}
