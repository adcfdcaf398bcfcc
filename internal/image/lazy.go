package image

import (
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// lazyImage is a v1.Image opened on first use, as go-containerregistry's own sources are: an
// archive scanned for its metadata (or not read at all, for an engine that reads it itself) is
// read again, and kept for its layers, only when something asks for them.
type lazyImage struct {
	open func() (v1.Image, error)
	once sync.Once
	img  v1.Image
	err  error
}

func (l *lazyImage) get() (v1.Image, error) {
	l.once.Do(func() { l.img, l.err = l.open() })
	return l.img, l.err
}

func lazily[T any](l *lazyImage, f func(v1.Image) (T, error)) (T, error) {
	img, err := l.get()
	if err != nil {
		var zero T
		return zero, err
	}
	return f(img)
}

func (l *lazyImage) Layers() ([]v1.Layer, error) {
	return lazily(l, func(i v1.Image) ([]v1.Layer, error) { return i.Layers() })
}
func (l *lazyImage) MediaType() (types.MediaType, error) {
	return lazily(l, func(i v1.Image) (types.MediaType, error) { return i.MediaType() })
}
func (l *lazyImage) Size() (int64, error) {
	return lazily(l, func(i v1.Image) (int64, error) { return i.Size() })
}
func (l *lazyImage) ConfigName() (v1.Hash, error) {
	return lazily(l, func(i v1.Image) (v1.Hash, error) { return i.ConfigName() })
}
func (l *lazyImage) ConfigFile() (*v1.ConfigFile, error) {
	return lazily(l, func(i v1.Image) (*v1.ConfigFile, error) { return i.ConfigFile() })
}
func (l *lazyImage) RawConfigFile() ([]byte, error) {
	return lazily(l, func(i v1.Image) ([]byte, error) { return i.RawConfigFile() })
}
func (l *lazyImage) Digest() (v1.Hash, error) {
	return lazily(l, func(i v1.Image) (v1.Hash, error) { return i.Digest() })
}
func (l *lazyImage) Manifest() (*v1.Manifest, error) {
	return lazily(l, func(i v1.Image) (*v1.Manifest, error) { return i.Manifest() })
}
func (l *lazyImage) RawManifest() ([]byte, error) {
	return lazily(l, func(i v1.Image) ([]byte, error) { return i.RawManifest() })
}
func (l *lazyImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	return lazily(l, func(i v1.Image) (v1.Layer, error) { return i.LayerByDigest(h) })
}
func (l *lazyImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	return lazily(l, func(i v1.Image) (v1.Layer, error) { return i.LayerByDiffID(h) })
}
