package publish

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/nixify/nixify/internal/arch"
)

// PushIndex writes the OCI index of images already in the registry (o.Refs, pushed earlier with
// NoIndex, typically by one CI job per architecture), then the index tags (o.Tags.Index). Each
// image's platform is read from its config in the registry, and two images of one platform are
// refused. Nothing is tagged unless the index is complete.
func PushIndex(ctx context.Context, o Options) (*Result, error) {
	repo, err := name.NewRepository(o.Repo)
	if err != nil {
		return nil, fmt.Errorf("invalid repository %q: %v (accepted: REGISTRY/NAMESPACE/NAME, e.g. ghcr.io/owner/nixify-health-check)", o.Repo, err)
	}
	if len(o.Refs) == 0 {
		return nil, errors.New("no image references to index")
	}
	sess, err := o.session(ctx, repo)
	if err != nil {
		return nil, err
	}
	res := &Result{Repo: repo.Name(), DryRun: o.DryRun}
	type entry struct {
		img      v1.Image
		platform *v1.Platform
	}
	var entries []entry
	annotations := map[string]string{}
	for k, v := range o.Annotations {
		annotations[k] = v
	}
	seen := map[string]string{}
	for _, ref := range o.Refs {
		d, err := name.NewDigest(ref)
		if err != nil {
			return nil, fmt.Errorf("invalid image reference %q: %v (accepted: REPO@sha256:DIGEST, as --image-refs writes)", ref, err)
		}
		if d.Context().Name() != repo.Name() {
			return nil, fmt.Errorf("image %s is not in %s: an index can only list images of its own repository", ref, repo.Name())
		}
		img, err := remote.Image(d, sess.ropts()...)
		if err != nil {
			return nil, sess.explain("read "+ref, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return nil, sess.explain("read the config of "+ref, err)
		}
		platform := cfg.OS + "/" + cfg.Architecture
		if prev, dup := seen[platform]; dup {
			return nil, fmt.Errorf("two images for %s: %s and %s", platform, prev, ref)
		}
		seen[platform] = ref
		// The index carries what the images say of themselves (description, licenses...) unless
		// the caller says otherwise: the job that writes the index may not have the image labels.
		if m, err := img.Manifest(); err == nil {
			for k, v := range m.Annotations {
				if _, ok := annotations[k]; !ok {
					annotations[k] = v
				}
			}
		}
		res.Images = append(res.Images, Pushed{Arch: arch.FromOCI(cfg.Architecture), Digest: d.DigestStr(), Ref: d.String()})
		entries = append(entries, entry{img, &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}})
	}
	var adds []mutate.IndexAddendum
	for _, e := range entries {
		adds = append(adds, mutate.IndexAddendum{Add: e.img, Descriptor: v1.Descriptor{Platform: e.platform, Annotations: annotations}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	if len(annotations) > 0 {
		idx = mutate.Annotations(idx, annotations).(v1.ImageIndex)
	}
	id, err := idx.Digest()
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	res.Index = Pushed{Digest: id.String(), Ref: repo.Digest(id.String()).String(), Tags: o.Tags.Index}
	if o.DryRun {
		return res, nil
	}
	if err := remote.WriteIndex(repo.Digest(id.String()), idx, sess.ropts()...); err != nil {
		return nil, sess.explain("push the index to "+repo.String(), err)
	}
	for _, t := range res.Index.Tags {
		if err := remote.Tag(repo.Tag(t), idx, sess.ropts()...); err != nil {
			return nil, sess.explain("tag the index as "+t, err)
		}
	}
	return res, nil
}
