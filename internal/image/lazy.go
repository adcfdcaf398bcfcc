package image

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// lazyCore is an archive image opened on first use, as go-containerregistry's own sources are:
// an archive is read, and kept for its layers, only when something asks for the manifest or a
// layer. partial.CompressedToImage makes it a v1.Image.
type lazyCore struct {
	get func() (*archiveImage, error) // a sync.OnceValues
}

func (l *lazyCore) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func (l *lazyCore) RawConfigFile() ([]byte, error) {
	ai, err := l.get()
	if err != nil {
		return nil, err
	}
	return ai.RawConfigFile()
}

func (l *lazyCore) RawManifest() ([]byte, error) {
	ai, err := l.get()
	if err != nil {
		return nil, err
	}
	return ai.RawManifest()
}

func (l *lazyCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	ai, err := l.get()
	if err != nil {
		return nil, err
	}
	return ai.LayerByDigest(h)
}
