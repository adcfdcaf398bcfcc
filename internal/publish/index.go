package publish

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/registryclient"
)

type indexEntry struct {
	img      v1.Image
	platform *v1.Platform
}

// indexItem builds the OCI index of the entries, annotated like its manifests.
func (p *Publisher) indexItem(entries []indexEntry, annotations map[string]string, tags []string) (*Item, error) {
	var adds []mutate.IndexAddendum
	for _, e := range entries {
		adds = append(adds, mutate.IndexAddendum{Add: e.img, Descriptor: v1.Descriptor{Platform: e.platform, Annotations: annotations}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	if len(annotations) > 0 {
		idx = mutate.Annotations(idx, annotations).(v1.ImageIndex)
	}
	d, err := idx.Digest()
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	raw, _ := idx.RawManifest()
	return &Item{Kind: KindIndex, Digest: d.String(), Ref: p.c.Repo.Digest(d.String()).String(), Tags: nonNil(tags), Size: int64(len(raw)), obj: idx}, nil
}

// ReplaceError refuses a push whose index would take architectures away from a tag.
type ReplaceError struct {
	Repo, Tag string
	Had, Lost []arch.Arch // architectures of the tag's current index, and those the new one lacks
}

func (e *ReplaceError) Error() string {
	return fmt.Sprintf("%s:%s is an index of %s; this push would replace it with one without %s",
		e.Repo, e.Tag, strings.Join(arch.Strings(e.Had), ", "), strings.Join(arch.Strings(e.Lost), ", "))
}

// TagMoveError refuses to move an extra tag (--tag v1.2.0) that names another image already:
// latest and the branch tags move by design, a release tag does not.
type TagMoveError struct{ Repo, Tag, From, To string }

func (e *TagMoveError) Error() string {
	return fmt.Sprintf("%s:%s names %s already; this push would move it to %s", e.Repo, e.Tag, shortDigest(e.From), shortDigest(e.To))
}

// checkReplace refuses to move an index tag (latest, above all) to an index that lacks an
// architecture the tag's current index has: `push --arch x86_64` would otherwise turn the
// multi-arch latest into an x86_64-only one. An extra tag that names another image is not moved
// at all.
func (p *Publisher) checkReplace(ctx context.Context, plan *Plan) error {
	var planned []arch.Arch
	for _, i := range plan.Images {
		planned = append(planned, i.Arch)
	}
	for _, tag := range plan.Index.Tags {
		ref := p.c.Repo.Tag(tag)
		desc, err := remote.Get(ref, p.c.Options(ctx)...)
		if err != nil {
			err = p.c.Explain("read "+ref.String(), err)
			if errors.Is(err, registryclient.ErrNotFound) {
				continue
			}
			return err
		}
		if desc.Digest.String() == plan.Index.Digest {
			continue
		}
		if slices.Contains(p.o.tags, tag) {
			// A --tag names a release: moving it is overwriting what another push made.
			return &TagMoveError{Repo: p.Repo(), Tag: tag, From: desc.Digest.String(), To: plan.Index.Digest}
		}
		if !desc.MediaType.IsIndex() {
			continue
		}
		im, err := desc.ImageIndex()
		if err != nil {
			return p.c.Explain("read "+ref.String(), err)
		}
		m, err := im.IndexManifest()
		if err != nil {
			return p.c.Explain("read "+ref.String(), err)
		}
		var had, lost []arch.Arch
		for _, d := range m.Manifests {
			if d.Platform == nil || !d.MediaType.IsImage() {
				continue
			}
			a := arch.FromOCI(d.Platform.Architecture)
			had = append(had, a)
			if !slices.Contains(planned, a) {
				lost = append(lost, a)
			}
		}
		if len(lost) > 0 {
			return &ReplaceError{Repo: p.Repo(), Tag: tag, Had: had, Lost: lost}
		}
	}
	return nil
}
