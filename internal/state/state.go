// Package state owns nixify's state directory (.nixify unless configured otherwise): where each
// file in it lives, and the one way a file in it is replaced. Everything nixify remembers between
// runs is here; the images themselves stay in the Nix store.
//
//	builds.json        the last build of each architecture (internal/record)
//	build-times.json   how long each derivation took, for the build view's estimates
//	result-<arch>      links that keep each last build from Nix's garbage collector
//	closures/          what each recent build's image holds, for the SBOM and info --diff
//	layers.json        compressed digests of pushed layers, so an unchanged push compresses nothing
//	pushed.json        what the last push wrote (repository, digests, tags), for deploy
package state

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/moby/sys/atomicwriter"

	"github.com/nixify/nixify/internal/arch"
)

// Dir is a state directory.
type Dir string

// Builds is the record of the last builds.
func (d Dir) Builds() string { return d.file("builds.json") }

// BuildTimes is the record of derivation build times.
func (d Dir) BuildTimes() string { return d.file("build-times.json") }

// Result is the link that keeps a's last build from the garbage collector.
func (d Dir) Result(a arch.Arch) string { return d.file("result-" + a.String()) }

// Closures is the directory of the closure records of recent builds.
func (d Dir) Closures() string { return d.file("closures") }

// LayerCache is the cache of compressed layer digests.
func (d Dir) LayerCache() string { return d.file("layers.json") }

// Pushed is the record of the last push.
func (d Dir) Pushed() string { return d.file("pushed.json") }

func (d Dir) file(name string) string { return filepath.Join(string(d), name) }

// WriteFile replaces the file at p with data atomically (moby's atomicwriter: a temporary file in
// the same directory, synced, then renamed over it), so a reader never sees half of it and a crash
// leaves the old file or the new one. The directory is created when missing.
func WriteFile(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	if err := atomicwriter.WriteFile(p, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}
