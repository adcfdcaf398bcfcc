// Package record keeps what the last `nixify build` produced for each architecture, so that run,
// info and push use it without rebuilding. The record is a small JSON file in the state directory
// (.nixify/builds.json); the build outputs stay in the Nix store.
package record

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/state"
)

// Kind says how the build output holds the image.
type Kind string

const (
	Tarball Kind = "tarball" // a docker-archive file (plain, gzip or zstd): buildLayeredImage
	Stream  Kind = "stream"  // an executable that writes a docker-archive to stdout: streamLayeredImage
)

// Build is one architecture's last build.
type Build struct {
	Arch          arch.Arch     `json:"arch"`   // x86_64 or aarch64
	System        string        `json:"system"` // the Nix system the image is for, e.g. aarch64-linux
	Flake         string        `json:"flake"`
	Attr          string        `json:"attr"`
	Installable   string        `json:"installable"` // what was passed to nix build
	Cross         bool          `json:"cross"`       // built by the cross output on another system
	DrvPath       string        `json:"drvPath"`
	OutPath       string        `json:"outPath"`
	Kind          Kind          `json:"kind"`
	ConfigDigest  string        `json:"configDigest,omitempty"` // sha256:... of the image config = the engine's image ID
	RepoTag       string        `json:"repoTag,omitempty"`      // name:tag the archive carries
	Size          int64         `json:"size"`                   // bytes of the output (tarball) or of the streamed archive
	Duration      time.Duration `json:"duration"`
	FlakeRevision string        `json:"flakeRevision,omitempty"`
	FlakeHash     string        `json:"flakeHash,omitempty"` // narHash of the flake source, to tell whether it changed
	BuiltAt       time.Time     `json:"builtAt"`

	// What the SBOM and provenance need (see internal/closure).
	Strategy  string    `json:"strategy,omitempty"`  // native, emulated, remote or cross
	StartedAt time.Time `json:"startedAt,omitempty"` // when nix build started
	Closure   string    `json:"closure,omitempty"`   // the closure record's file
}

// Store reads and writes the record in one directory.
type Store struct {
	Dir string
}

var (
	// ErrNoBuild means there is no recorded build for the architecture.
	ErrNoBuild = errors.New("no recorded build")
	// ErrDamaged means the record file cannot be read as a record: a bad file, not a failure.
	ErrDamaged = errors.New("is damaged")
)

// Path is the record file.
func (s Store) Path() string { return state.Dir(s.Dir).Builds() }

// All returns every recorded build, ordered by architecture.
func (s Store) All() ([]Build, error) {
	data, err := os.ReadFile(s.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read build record: %w", err)
	}
	var f struct {
		Builds map[arch.Arch]Build `json:"builds"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("build record %s %w (%v): remove it and build again", s.Path(), ErrDamaged, err)
	}
	return slices.SortedFunc(maps.Values(f.Builds), func(a, b Build) int { return cmp.Compare(a.Arch, b.Arch) }), nil
}

// Latest returns the last build for arch; errors.Is(err, ErrNoBuild) when there is none, or when
// its output has been garbage-collected from the store.
func (s Store) Latest(a arch.Arch) (Build, error) {
	all, err := s.All()
	if err != nil {
		return Build{}, err
	}
	for _, b := range all {
		if b.Arch == a {
			if _, err := os.Stat(b.OutPath); err != nil {
				return Build{}, fmt.Errorf("%w for %s: its output %s is gone (garbage-collected?): run `nixify build --arch %s`", ErrNoBuild, a, b.OutPath, a)
			}
			return b, nil
		}
	}
	return Build{}, fmt.Errorf("%w for %s: run `nixify build --arch %s` first", ErrNoBuild, a, a)
}

// Save records b as the last build of its architecture, replacing the file atomically.
func (s Store) Save(b Build) error {
	all, err := s.All()
	if err != nil {
		return err
	}
	builds := map[arch.Arch]Build{}
	for _, x := range all {
		builds[x.Arch] = x
	}
	builds[b.Arch] = b
	data, err := json.MarshalIndent(struct {
		Builds map[arch.Arch]Build `json:"builds"`
	}{builds}, "", "  ")
	if err != nil {
		return err
	}
	return state.WriteFile(s.Path(), append(data, '\n'))
}

// Clear removes the records, builds and build times, and the closure records they point to (and
// nothing in the Nix store).
func (s Store) Clear() error {
	d := state.Dir(s.Dir)
	for _, p := range []string{d.Builds(), d.BuildTimes()} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	// The closure records belong to the builds (Build.Closure points into them).
	return os.RemoveAll(d.Closures())
}
