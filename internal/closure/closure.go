// Package closure records, at build time, exactly what an image holds: every Nix store path of
// its layers with name, version, NAR hash and size, the derivation that built it and, where
// nixpkgs knows them, licence, homepage and the source's URL and hash; the Go modules compiled
// into its Go binaries; and how the image was built (flake, revisions, system, builder, times).
// The SBOM, the provenance and `info --diff` are all read from this record, so none of them
// needs Nix or the store once the build is done.
package closure

import (
	"sort"
	"strings"
	"time"
)

// Closure is the record of one build's image. Field names are stable: they are stored in the
// state directory and read back by later nixify versions.
type Closure struct {
	Version int `json:"version"` // of this format

	Arch         string    `json:"arch"`
	System       string    `json:"system"`
	OutPath      string    `json:"outPath"`
	DrvPath      string    `json:"drvPath"`
	ConfigDigest string    `json:"configDigest,omitempty"`
	Source       Source    `json:"source"`
	Builder      string    `json:"builder"` // native, emulated, remote or cross
	Host         string    `json:"host,omitempty"`
	NixVersion   string    `json:"nixVersion,omitempty"`
	StartedAt    time.Time `json:"startedAt"`
	FinishedAt   time.Time `json:"finishedAt"`
	CI           *CI       `json:"ci,omitempty"`

	Components []Component `json:"components"`
	Layers     []Layer     `json:"layers"`
	// MetaError says why licences and homepages are missing, when nix could not read them.
	MetaError string `json:"metaError,omitempty"`
}

// FormatVersion is the version of the record this nixify writes.
const FormatVersion = 1

// Source is the flake the image was built from.
type Source struct {
	Flake           string `json:"flake"`       // as given, e.g. "." or "github:owner/repo"
	Installable     string `json:"installable"` // flake#attribute built
	URL             string `json:"url,omitempty"`
	Revision        string `json:"revision,omitempty"` // git revision of the flake, when clean
	NarHash         string `json:"narHash,omitempty"`
	LastModified    int64  `json:"lastModified,omitempty"`
	NixpkgsRevision string `json:"nixpkgsRevision,omitempty"` // from flake.lock, when it has nixpkgs
	NixpkgsURL      string `json:"nixpkgsUrl,omitempty"`
}

// CI is the GitHub Actions run that built the image.
type CI struct {
	Provider   string `json:"provider"` // github-actions
	Server     string `json:"server"`
	Repository string `json:"repository"`
	Workflow   string `json:"workflow"` // GITHUB_WORKFLOW_REF: owner/repo/.github/workflows/x.yml@ref
	RunID      string `json:"runId"`
	RunAttempt string `json:"runAttempt,omitempty"`
	Commit     string `json:"commit"`
	Ref        string `json:"ref,omitempty"`
}

// Component types.
const (
	Nix    = "nix"    // a store path
	Golang = "golang" // a Go module compiled into a binary of a store path
)

// Component is one store path of the image, or one Go module inside one of its binaries.
type Component struct {
	Type    string `json:"type"`
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`

	// Store paths.
	StorePath   string   `json:"storePath,omitempty"`
	NarHash     string   `json:"narHash,omitempty"` // base-16 sha256 of the path's NAR
	NarSize     int64    `json:"narSize,omitempty"`
	Deriver     string   `json:"deriver,omitempty"`
	References  []string `json:"references,omitempty"` // other store paths of the image it refers to
	Licenses    []string `json:"licenses,omitempty"`   // SPDX identifiers where nixpkgs gives them
	Homepage    string   `json:"homepage,omitempty"`
	Description string   `json:"description,omitempty"`
	SourceURL   string   `json:"sourceUrl,omitempty"`
	SourceHash  string   `json:"sourceHash,omitempty"` // base-16
	SourceAlgo  string   `json:"sourceHashAlgo,omitempty"`

	// Go modules.
	Sum    string `json:"sum,omitempty"`    // go.sum hash, h1:...
	In     string `json:"in,omitempty"`     // the store path holding the binary
	Binary string `json:"binary,omitempty"` // the binary, relative to In
	Main   bool   `json:"main,omitempty"`   // the binary's main module
}

// Layer is one layer of the image and the store paths it holds, bottom first.
type Layer struct {
	DiffID     string   `json:"diffId"`
	Size       int64    `json:"size"` // uncompressed, or as a registry stores it when Compressed
	Compressed bool     `json:"compressed,omitempty"`
	StorePaths []string `json:"storePaths"`
}

// Key identifies a component across builds: a store path's name, or a Go module's path.
func (c Component) Key() string {
	if c.Type == Golang {
		return "go:" + c.Name
	}
	return c.Name
}

// Ref is a unique reference to the component within one closure.
func (c Component) Ref() string {
	if c.Type == Golang {
		return c.In + "#" + c.Binary + "@" + c.Name
	}
	return c.StorePath
}

// Size is the bytes of the image's store paths.
func (c *Closure) Size() int64 {
	var n int64
	for _, x := range c.Components {
		n += x.NarSize
	}
	return n
}

// StoreName is a store path's name without the hash, e.g. postgresql-16.4.
func StoreName(p string) string {
	b := p[strings.LastIndexByte(p, '/')+1:]
	if len(b) > 33 && b[32] == '-' {
		return b[33:]
	}
	return b
}

// ParseName splits a store name the way Nix's builtins.parseDrvName does: the version starts at
// the first dash followed by a character that is not a letter ("postgresql-16.4" -> postgresql,
// 16.4; "redis-static-7.2" -> redis-static, 7.2).
func ParseName(name string) (pname, version string) {
	for i := 0; i+1 < len(name); i++ {
		if name[i] == '-' {
			c := name[i+1]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return name[:i], name[i+1:]
			}
		}
	}
	return name, ""
}

func sortComponents(cs []Component) {
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].Type != cs[j].Type {
			return cs[i].Type == Nix
		}
		return cs[i].Ref() < cs[j].Ref()
	})
}
