package nix

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/nixify/nixify/internal/iostreams"
)

// Missing is what building an installable would do, as `nix build --dry-run` says: the
// derivations it would build and the store paths it would fetch from a substituter.
type Missing struct {
	Build   []string // .drv paths, in Nix's order
	Fetch   []string // store paths
	Unknown []string // paths Nix does not know how to build or fetch
	// Nix's totals for Fetch, as it rounds them (two decimals of MiB in Nix 2.8).
	DownloadBytes, UnpackedBytes int64
}

// DryRun asks nix what building installable would build and fetch, without doing either.
func (n *Nix) DryRun(ctx context.Context, installable string) (Missing, error) {
	var mu sync.Mutex
	var lines []string
	_, err := n.stream(ctx, append(append([]string{"build"}, n.LockFlags...), "--dry-run", "--no-link", "--log-format", "internal-json", installable), func(e *Event) {
		if e.Action == ActionMsg {
			mu.Lock()
			lines = append(lines, strings.Split(StripANSI(e.Msg), "\n")...)
			mu.Unlock()
		}
	})
	if err != nil {
		return Missing{}, err
	}
	return ParseMissing(lines), nil
}

// missingRE matches the heading of each list in Nix's answer, in every wording Nix has used:
// "these 2 derivations will be built:", "this derivation will be built:", "these paths will be
// fetched (0.29 MiB download, 1.20 MiB unpacked):" (before 2.4 without a count; from about 2.26
// sizes in any binary unit, "178.1 KiB download"), "don't know how to build these paths:".
var missingRE = regexp.MustCompile(`^(?:(?:these|this)(?: \d+)? (derivations?|paths?) will be (built|fetched)(?: \(([^)]*)\))?|(?:don't|do not) know how to build these paths):$`)

// sizeRE reads one size of the fetch heading: "0.29 MiB download", "128.4 MiB unpacked".
var sizeRE = regexp.MustCompile(`([0-9][0-9.]*\s*[KMGTPE]?i?B)\s+(download|unpacked)`)

// ParseMissing reads Nix's dry-run messages, one line each: a heading, then the paths it lists,
// indented. Lines it does not know (warnings, evaluation messages) end a list and are skipped.
func ParseMissing(lines []string) Missing {
	var m Missing
	var list *[]string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if h := missingRE.FindStringSubmatch(t); h != nil {
			switch {
			case h[2] == "built":
				list = &m.Build
			case h[2] == "fetched":
				list = &m.Fetch
				for _, s := range sizeRE.FindAllStringSubmatch(h[3], -1) {
					b, err := iostreams.ParseBytes(s[1])
					if err != nil {
						continue
					}
					if s[2] == "download" {
						m.DownloadBytes = b
					} else {
						m.UnpackedBytes = b
					}
				}
			default:
				list = &m.Unknown
			}
			continue
		}
		if list != nil && strings.HasPrefix(t, "/") && l != t {
			*list = append(*list, t)
			continue
		}
		list = nil
	}
	return m
}

// Substitute is what a binary cache says of a store path it holds.
type Substitute struct {
	Path          string `json:"path"`
	Cache         string `json:"cache"`
	DownloadBytes int64  `json:"downloadBytes"` // the compressed archive
	UnpackedBytes int64  `json:"unpackedBytes"` // the NAR, as the path takes on disk
}

// Substitutes asks each substituter in turn (as Nix does, in order) for the paths no earlier one
// holds. Paths that none holds are left out. Nix has just asked the same question for a dry run,
// and keeps the answers in its cache of binary-cache lookups, so this costs little.
func (n *Nix) Substitutes(ctx context.Context, substituters, paths []string) (map[string]Substitute, error) {
	out := map[string]Substitute{}
	left := paths
	for _, cache := range substituters {
		if len(left) == 0 {
			break
		}
		data, err := n.run(ctx, append([]string{"path-info", "--json", "--store", cache}, left...)...)
		if err != nil {
			return out, fmt.Errorf("ask %s for %d paths: %w", cache, len(left), err)
		}
		found, err := parseSubstitutes(data)
		if err != nil {
			return out, fmt.Errorf("nix path-info --store %s: %w", cache, err)
		}
		var rest []string
		for _, p := range left {
			if s, ok := found[p]; ok {
				s.Cache = cache
				out[p] = s
			} else {
				rest = append(rest, p)
			}
		}
		left = rest
	}
	return out, nil
}

// parseSubstitutes reads `nix path-info --json --store CACHE` of any Nix version: a list with
// {"path", "valid": false} for what the cache lacks (up to 2.18), or an object keyed by path, null
// for what it lacks (2.19 on; from 2.33 keyed by base name).
func parseSubstitutes(data []byte) (map[string]Substitute, error) {
	type raw struct {
		Path         string `json:"path"`
		Valid        *bool  `json:"valid"`
		NarSize      int64  `json:"narSize"`
		DownloadSize int64  `json:"downloadSize"`
		StoreDir     string `json:"storeDir"`
	}
	out := map[string]Substitute{}
	add := func(key string, r raw) {
		if r.Valid != nil && !*r.Valid {
			return
		}
		dir := firstNonEmpty(r.StoreDir, StoreDir)
		p := absStore(dir, firstNonEmpty(r.Path, key))
		out[p] = Substitute{Path: p, DownloadBytes: r.DownloadSize, UnpackedBytes: r.NarSize}
	}
	var list []raw
	if err := json.Unmarshal(data, &list); err == nil {
		for _, r := range list {
			add("", r)
		}
		return out, nil
	}
	var m map[string]*raw
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("unexpected output: %w", err)
	}
	for k, r := range m {
		if r != nil {
			add(k, *r)
		}
	}
	return out, nil
}
