package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/kube"
	"github.com/nixify/nixify/internal/record"
	"github.com/nixify/nixify/internal/registryclient"
)

// image is what the pod runs: a digest reference, and the architectures it has (empty: unknown).
type image struct {
	Ref   string
	Archs []string
}

// resolveImage is --image (a digest as given; a tag resolved to its digest through the registry),
// else the last push's record.
func resolveImage(ctx context.Context, opts *Options, cfg config.Config) (image, error) {
	if opts.Image == "" {
		return lastPush(cfg.StateDir)
	}
	ref, err := name.ParseReference(opts.Image)
	if err != nil {
		return image{}, cli.Usagef("invalid --image %q: accepted: REPO@sha256:DIGEST or REPO:TAG (e.g. ghcr.io/owner/nixify-health-check:latest)", clip(opts.Image))
	}
	if d, ok := ref.(name.Digest); ok {
		return image{Ref: d.Context().Name() + "@" + d.DigestStr()}, nil
	}
	c, err := registryclient.ForRepository(ref.Context(), append([]registryclient.Option{registryclient.WithRequestTimeout(opts.RequestTimeout)}, opts.Registry...)...)
	if err != nil {
		return image{}, registryError(err)
	}
	desc, err := remote.Get(ref, c.Options(ctx)...)
	if err != nil {
		return image{}, registryError(c.Explain("resolve "+ref.String()+" to its digest", err))
	}
	img := image{Ref: ref.Context().Name() + "@" + desc.Digest.String()}
	if desc.MediaType.IsIndex() {
		if idx, err := desc.ImageIndex(); err == nil {
			if m, err := idx.IndexManifest(); err == nil {
				for _, d := range m.Manifests {
					if d.Platform != nil && d.Platform.OS == "linux" && !slices.Contains(img.Archs, d.Platform.Architecture) {
						img.Archs = append(img.Archs, d.Platform.Architecture)
					}
				}
			}
		}
	} else if i, err := desc.Image(); err == nil {
		if cf, err := i.ConfigFile(); err == nil && cf.Architecture != "" {
			img.Archs = []string{cf.Architecture}
		}
	}
	return img, nil
}

func registryError(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, registryclient.ErrUnreachable):
		return cli.Unavailable(err, "check the registry's host and the network, or pass the image by digest (--image REPO@sha256:...), which asks no registry")
	case errors.Is(err, registryclient.ErrNotFound):
		return cli.Failed(err, "push it first (nixify push), or name a tag the registry has")
	case errors.Is(err, registryclient.ErrDenied):
		return cli.Failed(err, "log in to the registry (docker login), or pass the image by digest")
	}
	return cli.Fail(err)
}

// lastPush is the image the last `nixify push` wrote: its index, else its one image.
func lastPush(stateDir string) (image, error) {
	p, err := record.Store{Dir: stateDir}.LastPush()
	switch {
	case errors.Is(err, record.ErrNoPush):
		return image{}, cli.Failed(errors.New("no image was pushed from here yet: deploy runs the last pushed image, by digest"),
			"run `nixify push` first, or pass --image REPO@sha256:DIGEST (or REPO:TAG)")
	case errors.Is(err, record.ErrDamaged):
		return image{}, cli.UsageError(err)
	case err != nil:
		return image{}, cli.Fail(err)
	}
	ref := p.Ref()
	if ref == "" {
		return image{}, cli.Failed(fmt.Errorf("the last push (%s) wrote %d images and no index: deploy needs one reference", p.Repo, len(p.Images)),
			"write the index (nixify push --index-from), or pass --image REPO@sha256:DIGEST")
	}
	img := image{Ref: ref}
	for a := range p.Images {
		img.Archs = append(img.Archs, a.GOARCH())
	}
	slices.Sort(img.Archs)
	return img, nil
}

// printManifests is --dry-run: the manifests without the Secret (a GitOps repository must not hold
// generated passwords), with a comment saying how to create it.
func printManifests(opts *Options, spec kube.Spec) error {
	objs, err := kube.Objects(spec, nil)
	if err != nil {
		return cli.UsageError(err)
	}
	ns := ""
	if spec.Namespace != "" {
		ns = " -n " + spec.Namespace
	}
	comments := []string{
		fmt.Sprintf("nixify deploy --dry-run: %s on Kubernetes (image by digest).", spec.Name),
		fmt.Sprintf("The pod reads its passwords from the Secret %s, which is not written here: create it once", spec.Name),
		"(deploy itself does so on its first run), for example:",
		fmt.Sprintf("  kubectl%s create secret generic %s \\", ns, spec.Name),
		`    --from-literal=POSTGRES_PASSWORD="$(openssl rand -hex 16)" --from-literal=REDIS_PASSWORD="$(openssl rand -hex 16)" \`,
		`    --from-literal=GARAGE_ACCESS_KEY="GK$(openssl rand -hex 12)" --from-literal=GARAGE_SECRET_KEY="$(openssl rand -hex 32)" \`,
		`    --from-literal=GARAGE_ADMIN_TOKEN="$(openssl rand -hex 16)"`,
		"or keep it sealed (Sealed Secrets, SOPS, External Secrets) with these five keys.",
	}
	if opts.IO.WantsJSON() {
		var out []map[string]any
		for _, o := range objs {
			m, err := o.Fields()
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return opts.IO.WriteJSON(map[string]any{"apiVersion": "v1", "kind": "List", "items": out})
	}
	if err := kube.WriteYAML(opts.IO.Out, comments, objs); err != nil {
		return cli.Fail(err)
	}
	if opts.IO.Format != "yaml" {
		opts.IO.Errorf("%s\n", strings.TrimSpace("dry run: nothing was sent to a cluster (-o yaml for the same without this line)"))
	}
	return nil
}
