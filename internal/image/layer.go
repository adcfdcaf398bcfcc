package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/nixify/nixify/internal/state"
)

// layerCodec names how layers are compressed for a registry. It is part of the layer cache's key:
// another compressor or level gives other bytes, hence another digest.
const layerCodec = "klauspost-gzip-1"

// LayerCache remembers the compressed digest and size of each layer by its diff ID, so that pushing
// an unchanged image compresses nothing: the registry is asked about the remembered digests and
// already has them. The cache is a small JSON file; the compressed bytes are not kept.
type LayerCache struct {
	path string

	mu      sync.Mutex
	loaded  bool
	entries map[string]cachedLayer
}

type cachedLayer struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
	Codec  string `json:"codec"`
}

// NewLayerCache keeps the cache in the file at p (state.Dir.LayerCache).
func NewLayerCache(p string) *LayerCache {
	return &LayerCache{path: p}
}

func (c *LayerCache) get(diffID string) (cachedLayer, bool) {
	if c == nil {
		return cachedLayer{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.load()
	e, ok := c.entries[diffID]
	return e, ok && e.Codec == layerCodec
}

func (c *LayerCache) load() {
	if c.loaded {
		return
	}
	c.loaded = true
	c.entries = map[string]cachedLayer{}
	if data, err := os.ReadFile(c.path); err == nil {
		json.Unmarshal(data, &c.entries) // a damaged cache only costs a recompression
	}
}

func (c *LayerCache) put(diffID string, e cachedLayer) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.load()
	if c.entries[diffID] == e {
		return
	}
	c.entries[diffID] = e
	data, _ := json.MarshalIndent(c.entries, "", " ")
	_ = state.WriteFile(c.path, data) // a cache that cannot be written only costs a recompression
}

// archiveLayer is one uncompressed layer of an archive kept on disk, offered to go-containerregistry
// as a gzip-compressed layer. It is compressed at most once per process, into a temporary file, and
// only when its digest is unknown or its bytes are needed for an upload.
type archiveLayer struct {
	src    io.ReaderAt
	entry  fileEntry
	diffID v1.Hash
	cache  *LayerCache
	tmpDir string

	once   sync.Once
	file   string // compressed copy
	digest v1.Hash
	size   int64
	err    error
}

func (l *archiveLayer) uncompressed() io.Reader {
	return io.NewSectionReader(l.src, l.entry.offset, l.entry.size)
}

// compress writes the gzip form to a temporary file and records its digest.
func (l *archiveLayer) compress() {
	l.once.Do(func() {
		f, err := os.CreateTemp(l.tmpDir, "layer-*.tar.gz")
		if err != nil {
			l.err = fmt.Errorf("compress layer %s: %w", l.diffID, err)
			return
		}
		l.file = f.Name()
		h := sha256.New()
		zw, _ := gzip.NewWriterLevel(io.MultiWriter(f, h), gzip.BestSpeed)
		_, err = io.Copy(zw, l.uncompressed())
		if err == nil {
			err = zw.Close()
		}
		if err == nil {
			l.size, err = f.Seek(0, io.SeekCurrent)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			l.err = fmt.Errorf("compress layer %s: %w", l.diffID, err)
			return
		}
		l.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
		if c, ok := l.cache.get(l.diffID.String()); ok && c.Digest != l.digest.String() {
			// Another compressor wrote the cache entry: trust the bytes we have.
			l.err = fmt.Errorf("compress layer %s: digest %s differs from the cached %s; run again", l.diffID, l.digest, c.Digest)
			l.cache.put(l.diffID.String(), cachedLayer{Digest: l.digest.String(), Size: l.size, Codec: layerCodec})
			return
		}
		l.cache.put(l.diffID.String(), cachedLayer{Digest: l.digest.String(), Size: l.size, Codec: layerCodec})
	})
}

func (l *archiveLayer) Digest() (v1.Hash, error) {
	if c, ok := l.cache.get(l.diffID.String()); ok {
		if h, err := v1.NewHash(c.Digest); err == nil {
			return h, nil
		}
	}
	l.compress()
	return l.digest, l.err
}

func (l *archiveLayer) Size() (int64, error) {
	if c, ok := l.cache.get(l.diffID.String()); ok {
		return c.Size, nil
	}
	l.compress()
	return l.size, l.err
}

func (l *archiveLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

func (l *archiveLayer) Compressed() (io.ReadCloser, error) {
	l.compress()
	if l.err != nil {
		return nil, l.err
	}
	return os.Open(l.file)
}

func (l *archiveLayer) Uncompressed() (io.ReadCloser, error) {
	return io.NopCloser(l.uncompressed()), nil
}

func (l *archiveLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
