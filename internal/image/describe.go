package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nixify/nixify/internal/arch"
)

// Info is what `nixify info` shows of one image. Field names are stable: scripts read -o json.
type Info struct {
	Source     string    `json:"source"`
	Kind       Kind      `json:"kind"`
	FiledUnder arch.Arch `json:"filedUnder,omitempty"`

	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`

	ConfigDigest   string   `json:"configDigest"`
	ManifestDigest string   `json:"manifestDigest,omitempty"` // registry images only: an archive has no manifest yet
	MediaType      string   `json:"mediaType,omitempty"`
	RepoTags       []string `json:"repoTags,omitempty"`

	ArchiveCompression Compression `json:"archiveCompression,omitempty"`
	ArchiveSize        int64       `json:"archiveSize,omitempty"`      // bytes of the archive as stored or streamed
	CompressedSize     int64       `json:"compressedSize,omitempty"`   // config + compressed layers, as a registry stores them (0: unknown)
	UncompressedSize   int64       `json:"uncompressedSize,omitempty"` // config + layer tars (0: unknown)

	Layers []LayerInfo `json:"layers"`

	Created        string            `json:"created,omitempty"`
	CreatedDefault bool              `json:"createdIsEpochDefault"` // Nix's reproducible 1970 default
	Entrypoint     []string          `json:"entrypoint,omitempty"`
	Cmd            []string          `json:"cmd,omitempty"`
	Env            []string          `json:"env,omitempty"`
	WorkingDir     string            `json:"workingDir,omitempty"`
	User           string            `json:"user,omitempty"`
	Ports          []string          `json:"ports,omitempty"`
	Volumes        []string          `json:"volumes,omitempty"`
	Healthcheck    *Healthcheck      `json:"healthcheck,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	Annotations    map[string]string `json:"annotations,omitempty"`

	Warnings []string `json:"warnings"`
}

// LayerInfo is one layer, bottom first.
type LayerInfo struct {
	Size           int64    `json:"size,omitempty"`           // uncompressed (0: unknown)
	CompressedSize int64    `json:"compressedSize,omitempty"` // as the registry stores it (0: unknown)
	Digest         string   `json:"digest,omitempty"`         // of the stored blob (registry) or file (archive)
	DiffID         string   `json:"diffId"`
	StorePaths     []string `json:"storePaths,omitempty"`
}

// Healthcheck is the image's HEALTHCHECK.
type Healthcheck struct {
	Test        []string `json:"test"`
	Interval    string   `json:"interval,omitempty"`
	Timeout     string   `json:"timeout,omitempty"`
	StartPeriod string   `json:"startPeriod,omitempty"`
	Retries     int      `json:"retries,omitempty"`
}

// Limits on layers: Nix's streamLayeredImage default maxLayers and the overlay driver's limit.
const (
	NixMaxLayers    = 100
	EngineMaxLayers = 125
)

// OCI labels that registries and ghcr.io read.
var wantedLabels = []string{
	"org.opencontainers.image.source",
	"org.opencontainers.image.revision",
	"org.opencontainers.image.description",
	"org.opencontainers.image.licenses",
}

// Describe reads an image's metadata: for archives from the scan (made now if the image was
// opened WithoutScan), for registry images from the manifest and config. No layer is kept.
func Describe(img *Image) (*Info, error) {
	info := &Info{Source: img.Source, Kind: img.Kind, FiledUnder: img.Arch, Warnings: []string{}}
	var rawCfg []byte
	if img.Kind == FromRegistry {
		var err error
		if rawCfg, err = describeManifest(info, img); err != nil {
			return nil, err
		}
	} else {
		a, err := img.Scan()
		if err != nil {
			return nil, err
		}
		rawCfg = describeArchive(info, a)
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(rawCfg, &cfg); err != nil {
		return nil, fmt.Errorf("config of %s is not valid JSON: %w", img.Source, err)
	}
	describeConfig(info, &cfg, img.Kind == FromRegistry)
	if img.Entry != nil {
		if img.Entry.Platform != nil && img.Entry.Platform.Architecture != cfg.Architecture {
			info.Warnings = append(info.Warnings, fmt.Sprintf("the index files this image under %s but its config says %s", img.Entry.Platform.Architecture, cfg.Architecture))
		}
		if info.Annotations == nil {
			info.Annotations = img.Entry.Annotations
		}
	}
	info.Warnings = append(info.Warnings, warnings(info)...)
	return info, nil
}

// describeArchive fills in what one scan of an archive found; it returns the raw config.
func describeArchive(info *Info, a *Archive) []byte {
	info.ConfigDigest = a.ConfigDigest
	info.RepoTags = a.RepoTags
	info.ArchiveCompression, info.ArchiveSize = a.Compression, a.ReadBytes
	info.UncompressedSize = int64(len(a.Config)) + a.LayerSize()
	if a.Compression != Uncompressed {
		info.CompressedSize = a.ReadBytes
	}
	for _, l := range a.Layers {
		info.Layers = append(info.Layers, LayerInfo{Size: l.Size, Digest: l.Digest, DiffID: l.DiffID, StorePaths: l.StorePaths})
	}
	return a.Config
}

// describeManifest fills in what a registry image's manifest says; it returns the raw config.
func describeManifest(info *Info, img *Image) ([]byte, error) {
	rawCfg, err := img.V1.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config of %s: %w", img.Source, err)
	}
	sum := sha256.Sum256(rawCfg)
	info.ConfigDigest = "sha256:" + hex.EncodeToString(sum[:])
	manifest, err := img.V1.Manifest()
	if err != nil {
		return nil, fmt.Errorf("read manifest of %s: %w", img.Source, err)
	}
	d, err := img.V1.Digest()
	if err != nil {
		return nil, fmt.Errorf("read manifest of %s: %w", img.Source, err)
	}
	info.ManifestDigest, info.MediaType = d.String(), string(manifest.MediaType)
	info.Annotations = manifest.Annotations
	info.CompressedSize = manifest.Config.Size
	for _, l := range manifest.Layers {
		info.CompressedSize += l.Size
		info.Layers = append(info.Layers, LayerInfo{CompressedSize: l.Size, Digest: l.Digest.String()})
	}
	return rawCfg, nil
}

// describeConfig fills in what the config says: platform, store paths per layer, runtime
// settings. diffIDs says the layers' diff IDs are still to be read from it (registry images).
func describeConfig(info *Info, cfg *v1.ConfigFile, diffIDs bool) {
	info.Architecture, info.OS, info.Variant = cfg.Architecture, cfg.OS, cfg.Variant
	if diffIDs && len(cfg.RootFS.DiffIDs) == len(info.Layers) {
		for i := range info.Layers {
			info.Layers[i].DiffID = cfg.RootFS.DiffIDs[i].String()
		}
	}
	// What a layer holds is the truth; dockerTools' history comments only a hint, for the layers
	// nobody read (a registry image's).
	paths := storePathsByLayer(cfg.History)
	if len(paths) == len(info.Layers) {
		for i := range info.Layers {
			if len(info.Layers[i].StorePaths) == 0 {
				info.Layers[i].StorePaths = paths[i]
			}
		}
	}
	if !cfg.Created.IsZero() {
		info.Created = cfg.Created.UTC().Format(time.RFC3339)
		info.CreatedDefault = cfg.Created.Year() == 1970
	}
	c := cfg.Config
	info.Entrypoint, info.Cmd, info.Env, info.WorkingDir, info.User = c.Entrypoint, c.Cmd, c.Env, c.WorkingDir, c.User
	info.Ports = slices.Sorted(maps.Keys(c.ExposedPorts)) // nil when empty, as JSON's null
	info.Volumes = slices.Sorted(maps.Keys(c.Volumes))
	info.Labels = c.Labels
	if hc := c.Healthcheck; hc != nil && len(hc.Test) > 0 {
		info.Healthcheck = &Healthcheck{Test: hc.Test, Retries: hc.Retries}
		info.Healthcheck.Interval = durationText(hc.Interval)
		info.Healthcheck.Timeout = durationText(hc.Timeout)
		info.Healthcheck.StartPeriod = durationText(hc.StartPeriod)
	}
}

func warnings(info *Info) []string {
	var w []string
	if info.FiledUnder != "" && arch.FromOCI(info.Architecture) != info.FiledUnder {
		w = append(w, fmt.Sprintf("filed under %s but its config says architecture %q", info.FiledUnder, info.Architecture))
	}
	switch n := len(info.Layers); {
	case n > EngineMaxLayers:
		w = append(w, fmt.Sprintf("%d layers: more than the Docker engine's limit of %d; the engine will refuse it", n, EngineMaxLayers))
	case n > EngineMaxLayers-10:
		w = append(w, fmt.Sprintf("%d layers: close to the Docker engine's limit of %d", n, EngineMaxLayers))
	case n >= NixMaxLayers-10:
		w = append(w, fmt.Sprintf("%d layers: at or near Nix's default maxLayers (%d); store paths beyond it share the last layer", n, NixMaxLayers))
	}
	if !slices.ContainsFunc(info.Layers, func(l LayerInfo) bool { return len(l.StorePaths) > 0 }) {
		w = append(w, "no Nix store path found in its layers: the SBOM and info --diff cannot name its packages")
	}
	var missing []string
	for _, l := range wantedLabels {
		// A registry image may carry them as manifest annotations (push fills them in) instead.
		if info.Labels[l] == "" && info.Annotations[l] == "" {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		w = append(w, "missing OCI labels: "+strings.Join(missing, ", "))
	}
	return w
}

var storePathRE = regexp.MustCompile(`/nix/store/[0-9a-df-np-sv-z]{32}-[^\s'",\]\)]+`)

// storePathsByLayer reads the store paths nixpkgs records in each non-empty layer's history entry
// (in created_by or comment, depending on the nixpkgs version).
func storePathsByLayer(h []v1.History) [][]string {
	var out [][]string
	for _, e := range h {
		if e.EmptyLayer {
			continue
		}
		ps := storePathRE.FindAllString(e.CreatedBy+" "+e.Comment, -1)
		out = append(out, ps)
	}
	return out
}

func durationText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}
