package image

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/registryclient"
)

// openRemote reads a registry reference: an image, or an index and each of its images. Only
// manifests and configs are fetched.
func openRemote(ctx context.Context, rf Ref, o *options) (*Set, error) {
	r, err := rf.Reference()
	if err != nil {
		return nil, err
	}
	ref := rf.Name
	c, err := registryclient.ForRepository(r.Context(), o.client...)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(r, c.Options(ctx)...)
	if err != nil {
		err = c.Explain("read "+ref, err)
		if errors.Is(err, registryclient.ErrNotFound) {
			return nil, notFound(r, err)
		}
		return nil, err
	}
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err != nil {
			return nil, c.Explain("read "+ref, err)
		}
		return &Set{Images: []*Image{{Source: ref, Kind: FromRegistry, V1: img, Repo: r.Context()}}}, nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, c.Explain("read index "+ref, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, c.Explain("read index "+ref, err)
	}
	s := &Set{Index: &Index{Ref: ref, Digest: desc.Digest.String(), MediaType: string(desc.MediaType), Size: desc.Size, Annotations: im.Annotations, Index: idx}}
	for i := range im.Manifests {
		d := im.Manifests[i]
		if !d.MediaType.IsImage() {
			continue // attestations and nested indexes
		}
		child, err := idx.Image(d.Digest)
		if err != nil {
			return nil, c.Explain(fmt.Sprintf("read %s@%s", r.Context(), d.Digest), err)
		}
		img := &Image{Source: r.Context().Digest(d.Digest.String()).String(), Kind: FromRegistry, V1: child, Entry: &d, Repo: r.Context()}
		if d.Platform != nil {
			img.Arch = arch.FromOCI(d.Platform.Architecture)
		}
		s.Images = append(s.Images, img)
	}
	return s, nil
}

// notFound says what is missing in the user's words: the tag, or the digest, in the repository.
func notFound(r name.Reference, err error) error {
	what := "no manifest " + r.Identifier()
	if _, ok := r.(name.Tag); ok {
		what = "no tag " + r.Identifier()
	}
	return &NotFoundError{Msg: fmt.Sprintf("%s in %s", what, r.Context().Name()), Err: err}
}

// NotFoundError is a registry that answered, and has no such tag or digest.
type NotFoundError struct {
	Msg string
	Err error
}

func (e *NotFoundError) Error() string { return e.Msg }
func (e *NotFoundError) Unwrap() error { return e.Err }
