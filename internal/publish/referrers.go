package publish

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/referrer"
)

// KindReferrer is a document attached to an image (an SBOM, a provenance statement): an OCI 1.1
// referrer whose subject is the image's manifest.
const KindReferrer Kind = "referrer"

// AttachFunc returns the documents to attach to the image of a whose manifest is subject. It
// is called while planning, once the image's digest is known, so that the documents can name it.
type AttachFunc func(a arch.Arch, subject v1.Descriptor) ([]referrer.Artifact, error)

// planReferrers adds to the plan, for each image, the referrers the request attaches to it. They
// are written after the images and the index and before any tag moves, so a tag never points at
// an image whose documents are missing.
func (p *Publisher) planReferrers(plan *Plan, attach AttachFunc) error {
	plan.Referrers = []*Item{}
	if attach == nil {
		return nil
	}
	for _, it := range plan.Images {
		img, ok := it.obj.(v1.Image)
		if !ok {
			continue
		}
		mt, err := img.MediaType()
		if err != nil {
			return err
		}
		raw, err := img.RawManifest()
		if err != nil {
			return err
		}
		d, err := v1.NewHash(it.Digest)
		if err != nil {
			return err
		}
		subject := v1.Descriptor{MediaType: mt, Digest: d, Size: int64(len(raw))}
		arts, err := attach(it.Arch, subject)
		if err != nil {
			return fmt.Errorf("%s image: documents to attach: %w", it.Arch, err)
		}
		for _, a := range arts {
			ri, err := referrer.Image(subject, a)
			if err != nil {
				return err
			}
			rd, _ := ri.Digest()
			m, _ := ri.Manifest()
			rraw, _ := ri.RawManifest()
			plan.Referrers = append(plan.Referrers, &Item{
				Kind: KindReferrer, Arch: it.Arch, Digest: rd.String(), Ref: p.c.Repo.Digest(rd.String()).String(),
				Tags: []string{}, Size: int64(len(rraw)) + m.Config.Size, // config and layer are one blob
				ArtifactType: a.ArtifactType, Subject: it.Digest,
				obj: ri, blobs: []v1.Descriptor{m.Config},
			})
		}
	}
	return nil
}

// referrerDigests are the digests of the plan's referrers, so that the push counts them apart
// from the images' manifests.
func referrerDigests(plan *Plan) map[string]bool {
	out := map[string]bool{}
	for _, it := range plan.Referrers {
		out[it.Digest] = true
	}
	return out
}
