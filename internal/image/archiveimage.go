package image

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// archiveImage serves an archive kept uncompressed on disk as an OCI image whose config is the
// archive's config byte for byte, so the config digest (the engine's image ID) survives a push.
type archiveImage struct {
	a      *Archive
	layers []*archiveLayer

	once     sync.Once
	manifest []byte
	err      error
}

func newArchiveImage(a *Archive, src io.ReaderAt, cache *LayerCache, tmpDir string) (*archiveImage, error) {
	ai := &archiveImage{a: a}
	for _, l := range a.Layers {
		if l.Compression != Uncompressed {
			return nil, fmt.Errorf("layer %s is stored %s-compressed inside the archive: only plain layer tars (as Nix writes them) are supported", l.Path, l.Compression)
		}
		h, err := v1.NewHash(l.DiffID)
		if err != nil {
			return nil, fmt.Errorf("layer %s: bad diff ID %q: %w", l.Path, l.DiffID, err)
		}
		ai.layers = append(ai.layers, &archiveLayer{src: src, entry: a.files[l.Path], diffID: h, cache: cache, tmpDir: tmpDir})
	}
	return ai, nil
}

func (ai *archiveImage) RawConfigFile() ([]byte, error) { return ai.a.Config, nil }

func (ai *archiveImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// RawManifest compresses the layers whose digests are not cached, two at a time (one per core).
func (ai *archiveImage) RawManifest() ([]byte, error) {
	ai.once.Do(func() {
		var g errgroup.Group
		g.SetLimit(2)
		descs := make([]v1.Descriptor, len(ai.layers))
		for i, l := range ai.layers {
			g.Go(func() error {
				d, err := partial.Descriptor(l)
				if err == nil {
					descs[i] = *d
				}
				return err
			})
		}
		if ai.err = g.Wait(); ai.err != nil {
			return
		}
		cfg, _ := v1.NewHash(ai.a.ConfigDigest)
		m := v1.Manifest{
			SchemaVersion: 2,
			MediaType:     types.OCIManifestSchema1,
			Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(ai.a.Config)), Digest: cfg},
			Layers:        descs,
		}
		ai.manifest, ai.err = json.Marshal(m)
	})
	return ai.manifest, ai.err
}

func (ai *archiveImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range ai.layers {
		if d, err := l.Digest(); err == nil && d == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("layer %s is not in the archive", h)
}
