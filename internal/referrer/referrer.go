// Package referrer makes documents (an SBOM, a provenance statement) into OCI 1.1 referrers of an
// image, for the publisher to write, lists what is attached to an image and reads it back. A referrer is a
// small manifest whose subject is the image's manifest: registries with the referrers API index
// it themselves; for the others (distribution 2.8, for one) go-containerregistry keeps the
// fallback tag sha256-<digest> pointing at an index of them, as the distribution spec describes.
// It knows registries and nothing of Nix or of what the documents say.
package referrer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Artifact is one document to attach.
type Artifact struct {
	ArtifactType string            // its media type, e.g. application/vnd.cyclonedx+json
	Data         []byte            // the document
	Annotations  map[string]string // on the referrer's manifest
}

// Attached is one referrer of an image.
type Attached struct {
	ArtifactType string            `json:"artifactType"`
	Digest       string            `json:"digest"` // of the referrer's manifest
	Size         int64             `json:"size"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// manifest is the referrer's manifest for a: an OCI image manifest whose artifactType names the
// document and whose one layer is the document. Its config is the document too, typed the same:
// registries that derive a referrer's type from config.mediaType (as go-containerregistry's
// in-process registry does) then report the same type as those that read artifactType, and no
// extra blob is uploaded.
func manifest(subject v1.Descriptor, a Artifact) ([]byte, v1.Descriptor, error) {
	h, size, err := v1.SHA256(bytes.NewReader(a.Data))
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	doc := v1.Descriptor{MediaType: types.MediaType(a.ArtifactType), Digest: h, Size: size}
	sub := v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	m := struct {
		SchemaVersion int64             `json:"schemaVersion"`
		MediaType     types.MediaType   `json:"mediaType"`
		ArtifactType  string            `json:"artifactType"`
		Config        v1.Descriptor     `json:"config"`
		Layers        []v1.Descriptor   `json:"layers"`
		Subject       *v1.Descriptor    `json:"subject"`
		Annotations   map[string]string `json:"annotations,omitempty"`
	}{2, types.OCIManifestSchema1, a.ArtifactType, doc, []v1.Descriptor{doc}, &sub, a.Annotations}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	mh, msize, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	return raw, v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: mh, Size: msize, ArtifactType: a.ArtifactType, Annotations: a.Annotations}, nil
}

// Image is the referrer of a as an image, so that anything that writes images attaches it (the
// publisher's plan is nixify's one writer of referrers): its config and its one layer are the
// document. Written where the registry has no referrers API, go-containerregistry also moves the
// fallback tag.
func Image(subject v1.Descriptor, a Artifact) (v1.Image, error) {
	raw, desc, err := manifest(subject, a)
	if err != nil {
		return nil, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return &artifactImage{raw: raw, desc: desc, manifest: &m, layer: static.NewLayer(a.Data, types.MediaType(a.ArtifactType)), data: a.Data}, nil
}

type artifactImage struct {
	raw      []byte
	desc     v1.Descriptor
	manifest *v1.Manifest
	layer    v1.Layer
	data     []byte
}

func (i *artifactImage) Layers() ([]v1.Layer, error)               { return []v1.Layer{i.layer}, nil }
func (i *artifactImage) MediaType() (types.MediaType, error)       { return i.desc.MediaType, nil }
func (i *artifactImage) Size() (int64, error)                      { return i.desc.Size, nil }
func (i *artifactImage) ConfigName() (v1.Hash, error)              { return i.manifest.Config.Digest, nil }
func (i *artifactImage) ConfigFile() (*v1.ConfigFile, error)       { return &v1.ConfigFile{}, nil }
func (i *artifactImage) RawConfigFile() ([]byte, error)            { return i.data, nil }
func (i *artifactImage) Digest() (v1.Hash, error)                  { return i.desc.Digest, nil }
func (i *artifactImage) Manifest() (*v1.Manifest, error)           { return i.manifest, nil }
func (i *artifactImage) RawManifest() ([]byte, error)              { return i.raw, nil }
func (i *artifactImage) LayerByDigest(h v1.Hash) (v1.Layer, error) { return i.layerBy(h) }
func (i *artifactImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) { return i.layerBy(h) }

func (i *artifactImage) layerBy(h v1.Hash) (v1.Layer, error) {
	if h == i.manifest.Config.Digest {
		return i.layer, nil
	}
	return nil, fmt.Errorf("artifact has no layer %s", h)
}

// List returns what is attached to the image at subject (REPO@sha256:...), through the referrers
// API or, where the registry has none, the fallback tag.
func List(ctx context.Context, subject name.Digest, opts ...remote.Option) ([]Attached, error) {
	idx, err := remote.Referrers(subject, append(opts, remote.WithContext(ctx))...)
	if err != nil {
		return nil, fmt.Errorf("list what is attached to %s: %w", subject, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("list what is attached to %s: %w", subject, err)
	}
	out := make([]Attached, 0, len(m.Manifests))
	for _, d := range m.Manifests {
		out = append(out, Attached{ArtifactType: d.ArtifactType, Digest: d.Digest.String(), Size: d.Size, Annotations: d.Annotations})
	}
	return out, nil
}

// Scheme says how the registry keeps referrers: "referrers API" or "fallback tag sha256-<hex>".
func Scheme(ctx context.Context, subject name.Digest, opts ...remote.Option) string {
	if _, err := remote.Referrers(subject, append(opts, remote.WithContext(ctx), remote.WithReferrersTagFallback(false))...); err == nil {
		return "referrers API"
	}
	return "fallback tag " + strings.Replace(subject.DigestStr(), ":", "-", 1)
}

// ErrNotAttached means the image has no referrer of the wanted type.
var ErrNotAttached = errors.New("not attached")

// Created is the annotation that dates a referrer; Fetch reads the newest.
const Created = "org.opencontainers.image.created"

// Fetch reads the document of the referrer of artifactType attached to subject; of several (an
// image attached to by two nixify versions), the one with the newest Created annotation.
func Fetch(ctx context.Context, subject name.Digest, artifactType string, opts ...remote.Option) ([]byte, Attached, error) {
	all, err := List(ctx, subject, opts...)
	if err != nil {
		return nil, Attached{}, err
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Annotations[Created] > all[j].Annotations[Created] })
	for _, a := range all {
		if a.ArtifactType != artifactType {
			continue
		}
		ref := subject.Context().Digest(a.Digest)
		img, err := remote.Image(ref, append(opts, remote.WithContext(ctx))...)
		if err != nil {
			return nil, a, fmt.Errorf("read %s: %w", ref, err)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) == 0 {
			return nil, a, fmt.Errorf("read %s: the referrer has no document (%v)", ref, err)
		}
		rc, err := layers[0].Compressed()
		if err != nil {
			return nil, a, fmt.Errorf("read %s: %w", ref, err)
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		if err != nil {
			return nil, a, fmt.Errorf("read %s: %w", ref, err)
		}
		return data, a, nil
	}
	return nil, Attached{}, fmt.Errorf("%w: %s has no %s referrer", ErrNotAttached, subject, artifactType)
}
