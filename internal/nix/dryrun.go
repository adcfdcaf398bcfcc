package nix

import (
	"context"
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
	Path          string
	Cache         string
	DownloadBytes int64 // the compressed archive
	UnpackedBytes int64 // the NAR, as the path takes on disk
}

// Substitutes asks each substituter in turn for the paths no earlier one holds. Paths that none
// holds are left out. Nix has just asked the same question for a dry run, and keeps the answers
// in its cache of binary-cache lookups, so this costs little.
func (n *Nix) Substitutes(ctx context.Context, substituters, paths []string) (map[string]Substitute, error) {
	out := map[string]Substitute{}
	left := paths
	for _, cache := range substituters {
		if len(left) == 0 {
			break
		}
		data, err := n.run(ctx, append([]string{"path-info", "--json", "--store", cache}, left...)...)
		if err != nil {
			return out, fmt.Errorf("ask %s for %s: %w", cache, iostreams.Count(len(left), "path", "paths"), err)
		}
		infos, invalid, err := parsePathInfos(data)
		if err != nil {
			return out, fmt.Errorf("nix path-info --store %s: %w", cache, err)
		}
		for _, p := range infos {
			out[p.Path] = Substitute{Path: p.Path, Cache: cache, DownloadBytes: p.DownloadSize, UnpackedBytes: p.NarSize}
		}
		left = invalid
	}
	return out, nil
}
