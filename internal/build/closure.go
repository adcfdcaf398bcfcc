package build

import (
	"context"
	"fmt"
	"os"

	"github.com/nixify/nixify/internal/closure"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/nix"
	"github.com/nixify/nixify/internal/record"
)

// recordClosure records what the image built for b holds (see internal/closure) for the SBOM,
// the provenance and `info --diff`. An output path recorded before is the same image, so a
// no-op rebuild only checks that its record is still there. a is the archive describe read, nil
// when it read none.
func recordClosure(ctx context.Context, n *nix.Nix, o Options, p Plan, b *record.Build, a *image.Archive, meta nix.Metadata, previous []record.Build) error {
	store := closure.In(o.StateDir)
	file := store.File(b.OutPath)
	if _, err := os.Stat(file); err == nil {
		for _, prev := range previous {
			if prev.OutPath == b.OutPath && prev.Closure != "" {
				b.Closure = file
				return nil
			}
		}
	}
	if a == nil {
		// Recorded by a nixify that did not record closures: read the image once more.
		set, err := image.Open(ctx, image.BuildRef(*b))
		if err != nil {
			return fmt.Errorf("read the image built for %s: %w", b.Arch, err)
		}
		a, err = set.Images[0].Scan()
		set.Close()
		if err != nil {
			return fmt.Errorf("read the image built for %s: %w", b.Arch, err)
		}
	}
	info, err := image.Describe(&image.Image{Source: b.OutPath, Archive: a})
	if err != nil {
		return err
	}
	in := closure.Input{ImageLayers: closure.Layers(info)}
	in.Arch, in.System, in.OutPath, in.DrvPath, in.ConfigDigest = b.Arch.String(), b.System, b.OutPath, b.DrvPath, b.ConfigDigest
	in.Builder, in.Host = string(p.Strategy), p.Host
	in.StartedAt, in.FinishedAt = b.StartedAt, b.StartedAt.Add(b.Duration)
	in.CI = closure.CIFromEnv(os.Getenv)
	in.Source = closure.Source{
		Flake: o.Flake, Installable: p.Installable, URL: meta.URL, Revision: meta.Revision,
		NarHash: meta.Locked.NarHash, LastModified: meta.LastModified,
	}
	in.Source.NixpkgsRevision, in.Source.NixpkgsURL = closure.NixpkgsLock(meta.Path)
	c, err := closure.Record(ctx, n, in)
	if err != nil {
		return fmt.Errorf("record the closure of the %s image: %w", b.Arch, err)
	}
	if b.Closure, err = store.Save(c); err != nil {
		return err
	}
	return nil
}
