// Package sbom implements `nixify sbom`: the bill of materials (CycloneDX 1.6 or SPDX 2.3) or the
// provenance of the last build, from its closure record, or of a registry image, read back from
// the referrers `nixify push` attached to it.
package sbom

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/closure"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/nix"
	"github.com/nixify/nixify/internal/record"
	"github.com/nixify/nixify/internal/referrer"
	"github.com/nixify/nixify/internal/registryclient"
	"github.com/nixify/nixify/internal/sbom"
	"github.com/spf13/cobra"
)

// Options is what `nixify sbom` needs.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)

	Image      string    // empty: the last build
	Format     string    // cyclonedx or spdx
	Arch       arch.Arch // which architecture's image; empty: the only one there is, else this host's
	Provenance bool      // the in-toto statement instead of the SBOM

	// Client adds registry client options (tests).
	Client []registryclient.Option
}

// NewCmdSBOM wires the command; runF replaces the run function in tests.
func NewCmdSBOM(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "sbom [IMAGE]",
		Short: "Print the image's bill of materials (CycloneDX or SPDX) or its provenance",
		Long: `Print the bill of materials of an image as JSON: every Nix store path in it (name, version,
NAR hash and size, derivation, licence, homepage, source URL and hash where nixpkgs knows them)
and every Go module compiled into its Go binaries, with package URLs (pkg:nix/..., pkg:golang/...),
the dependency graph between them, and the image's digest as the subject.

IMAGE is one of:
  (nothing)              the last build (--arch to choose): its closure was recorded at build
                         time; the subject is the image ID (config digest), as no manifest exists yet
  PATH                   an image file (docker-archive or stream script, e.g. ./result): the store
                         paths its layers name, read from this machine's store when they are there
  REGISTRY/REPO[:TAG]    a pushed image: the SBOM nixify push attached to it (an OCI referrer),
                         for --arch's image of a multi-arch index

--provenance prints the in-toto statement (SLSA provenance v1) instead: flake and revisions,
system, builder, derivation, times, and the GitHub Actions run that built it.`,
		Example: `  nixify sbom > sbom.cdx.json
  nixify sbom --format spdx --arch aarch64
  nixify sbom ghcr.io/owner/nixify-health-check:latest --arch arm64
  nixify sbom --provenance ghcr.io/owner/nixify-health-check:latest`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Image = args[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return sbomRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Format, "format", sbom.CycloneDX, "cyclonedx (CycloneDX 1.6 JSON) or spdx (SPDX 2.3 JSON)")
	cli.CompleteValues(cmd, "format", sbom.CycloneDX, sbom.SPDX)
	cli.ArchFlag(cmd, &opts.Arch, "which architecture's image (with an index or several builds)")
	fl.BoolVar(&opts.Provenance, "provenance", false, "print the in-toto SLSA provenance statement instead of the SBOM")
	return cmd
}

func sbomRun(ctx context.Context, opts *Options) error {
	format := strings.ToLower(strings.TrimSpace(opts.Format))
	if format != sbom.CycloneDX && format != sbom.SPDX {
		return cli.Usagef("invalid --format %q: accepted: cyclonedx, spdx", opts.Format)
	}
	var doc []byte
	var err error
	if opts.Image == "" {
		doc, err = fromBuild(opts, format, opts.Arch)
	} else {
		ref, perr := shared.ParseImage(opts.Image, opts.Config)
		switch {
		case perr != nil:
			return perr
		case ref.Kind == image.FromArchive || ref.Kind == image.FromStream:
			doc, err = fromFile(ctx, opts, ref, format)
		case ref.Kind == image.FromRegistry:
			doc, err = fromRegistry(ctx, opts, ref, format, opts.Arch)
		default:
			return cli.Usagef("%q names an image in the Docker engine, which does not keep how it was built: give the last build (no argument), an image file (docker save, ./result) or a pushed image (REGISTRY/REPO[:TAG])", opts.Image)
		}
	}
	if err != nil {
		return err
	}
	if _, err := opts.IO.Out.Write(append(doc, '\n')); err != nil {
		return cli.Fail(fmt.Errorf("write the document: %w", err))
	}
	return nil
}

// fromBuild makes the document of the last build of arch from its closure record.
func fromBuild(opts *Options, format string, a arch.Arch) ([]byte, error) {
	l, err := opts.Config()
	if err != nil {
		return nil, err
	}
	store := record.Store{Dir: l.Config.StateDir}
	if a == "" {
		if a, err = defaultArch(store); err != nil {
			return nil, err
		}
	}
	b, err := shared.LastBuild(l.Config.StateDir, a, "")
	if err != nil {
		return nil, err
	}
	if b.Closure == "" {
		return nil, cli.Failed(fmt.Errorf("the last %s build has no closure record (built by an older nixify)", a), "build again: nixify build --arch "+a.String())
	}
	c, err := closure.Load(b.Closure)
	if err != nil {
		return nil, cli.Failed(err, "build again: nixify build --arch "+a.String())
	}
	subject := sbom.Subject{Name: imageName(b, l.Config.Image), Digest: b.ConfigDigest}
	if opts.Provenance {
		return sbom.ProvenanceJSON(c, subject)
	}
	return sbom.Generate(format, c, subject)
}

// defaultArch is the architecture of the only recorded build, or else this host's.
func defaultArch(store record.Store) (arch.Arch, error) {
	if all, _ := store.All(); len(all) == 1 {
		return all[0].Arch, nil
	}
	var a arch.Arch
	return a, cli.HostArchIfEmpty(&a)
}

// imageName is the name the build's archive carries, without its tag, or the configured one.
func imageName(b record.Build, configured string) string {
	if b.RepoTag != "" {
		n, _, _ := strings.Cut(b.RepoTag, ":")
		return n
	}
	return configured
}

// fromFile makes the document of an image file (a docker-archive or a stream script, e.g.
// ./result) from the store paths its layers name: read from this machine's Nix store when they
// are all in it (versions, hashes, derivations, sources, Go modules), else named from the paths
// alone. The subject is the image ID (config digest).
func fromFile(ctx context.Context, opts *Options, ref image.Ref, format string) ([]byte, error) {
	if opts.Provenance {
		return nil, cli.Usagef("--provenance needs the last build or a pushed image: an image file does not say how it was built")
	}
	set, err := image.Open(ctx, ref)
	if err != nil {
		return nil, shared.ImageError(err)
	}
	defer set.Close()
	img := set.Images[0]
	info, err := image.Describe(img)
	if err != nil {
		return nil, shared.ImageError(err)
	}
	layers := closure.Layers(info)
	c := closure.FromLayers(layers)
	if n, err := nix.Find(); err == nil && inStore(layers) {
		in := closure.Input{ImageLayers: layers}
		in.Arch, in.System, in.ConfigDigest = arch.FromOCI(info.Architecture).String(), arch.FromOCI(info.Architecture).System(), info.ConfigDigest
		if rec, err := closure.Record(ctx, n, in); err == nil {
			rec.MetaError = "" // no flake attribute to evaluate: licences are only known from a build
			c = rec
		} else if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	name := opts.Image
	if len(info.RepoTags) > 0 {
		name, _, _ = strings.Cut(info.RepoTags[0], ":")
	}
	return sbom.Generate(format, c, sbom.Subject{Name: name, Digest: info.ConfigDigest})
}

// inStore reports whether every store path the layers name is in this machine's store.
func inStore(layers []closure.Layer) bool {
	n := 0
	for _, l := range layers {
		for _, p := range l.StorePaths {
			if _, err := os.Stat(p); err != nil {
				return false
			}
			n++
		}
	}
	return n > 0
}

// fromRegistry reads back the document attached to the image (of arch) at the reference.
func fromRegistry(ctx context.Context, opts *Options, ref image.Ref, format string, a arch.Arch) ([]byte, error) {
	r, err := ref.Reference()
	if err != nil {
		return nil, cli.UsageError(err)
	}
	client, err := registryclient.ForRepository(r.Context(), opts.Client...)
	if err != nil {
		return nil, cli.Fail(err)
	}
	set, err := image.Open(ctx, ref, image.WithRegistry(opts.Client...))
	if err != nil {
		return nil, explain(ctx, client, "read "+opts.Image, err)
	}
	defer set.Close()
	img, err := pick(set, a)
	if err != nil {
		return nil, err
	}
	d, err := img.V1.Digest()
	if err != nil {
		return nil, explain(ctx, client, "read "+opts.Image, err)
	}
	want := sbom.MediaType(format)
	if opts.Provenance {
		want = sbom.ProvenanceType
	}
	data, _, err := referrer.Fetch(ctx, r.Context().Digest(d.String()), want, client.Options(ctx)...)
	if errors.Is(err, referrer.ErrNotAttached) {
		hint := "push it with nixify push (without --no-sbom) to attach its SBOM and provenance"
		if format == sbom.SPDX && !opts.Provenance {
			hint = "nixify push attaches CycloneDX; read it with --format cyclonedx, or get SPDX from the build: nixify sbom --format spdx"
		}
		return nil, cli.Failed(err, hint)
	}
	if err != nil {
		return nil, explain(ctx, client, "read what is attached to "+opts.Image, err)
	}
	return data, nil
}

// pick chooses the image of arch in a set: the only one, or the one filed under arch (this
// host's when arch is empty).
func pick(set *image.Set, a arch.Arch) (*image.Image, error) {
	if len(set.Images) == 1 && (a == "" || set.Images[0].Arch == "" || set.Images[0].Arch == a) {
		return set.Images[0], nil
	}
	want := a
	if err := cli.HostArchIfEmpty(&want); err != nil {
		return nil, err
	}
	var have []string
	for _, img := range set.Images {
		if img.Arch == want {
			return img, nil
		}
		have = append(have, img.Arch.String())
	}
	return nil, cli.Usagef("the index has no %s image (it has %s): pass --arch", want, strings.Join(have, ", "))
}

// explain gives registry failures their exit code: unreachable is 4, the rest 1.
func explain(ctx context.Context, c *registryclient.Client, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	err = c.Explain(what, err)
	if errors.Is(err, registryclient.ErrUnreachable) {
		return cli.Unavailable(err, "check the reference's host and the network")
	}
	return cli.Failed(err, "check the reference and your registry credentials (docker login, or GITHUB_TOKEN for ghcr.io)")
}
