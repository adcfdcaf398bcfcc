package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/nixify/nixify/internal/arch"
)

// Image is one architecture's image to push.
type Image struct {
	Arch  arch.Arch
	Image v1.Image
}

// Request is what the caller ships: its images (or the digests of images already pushed), the
// commit they were built from and when they were built. What is written follows from it and the
// publisher's options.
type Request struct {
	Images []Image    // the images to push, one per architecture
	Refs   []string   // or: digest references of images already pushed, to index (REPO@sha256:...)
	Rev    *Revision  // the commit the images were built from; nil when unknown (then tags are needed)
	Built  time.Time  // when the newest of the images was built; zero when unknown
	Attach AttachFunc // the documents (SBOM, provenance) to attach to each image; nil attaches none
}

// latest says whether the push tags latest: asked for, or a push of the default branch.
func (p *Publisher) latest(r Request) bool {
	return p.o.latest || (r.Rev != nil && r.Rev.Default)
}

// created is the created annotation's time where the images do not say: when the source was
// committed, so that the same commit pushed twice gives the same digests and a dry run predicts
// them; without a commit time the newest build's time does the same; the clock only when neither
// is known.
func created(r Request) time.Time {
	switch {
	case r.Rev != nil && !r.Rev.Time.IsZero():
		return r.Rev.Time
	case !r.Built.IsZero():
		return r.Built.UTC().Truncate(time.Second)
	}
	return time.Now().UTC().Truncate(time.Second)
}

// itemJSON is an Item as JSON: the architecture under the name and in the spelling every command's
// JSON uses (OCI's: amd64, arm64), the rest as it is.
type itemJSON struct {
	plainItem
	Architecture string `json:"architecture,omitempty"`
}

type plainItem Item

// MarshalJSON writes the architecture as OCI's name.
func (it Item) MarshalJSON() ([]byte, error) {
	return json.Marshal(itemJSON{plainItem(it), it.Arch.GOARCH()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (it *Item) UnmarshalJSON(b []byte) error {
	var j itemJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*it = Item(j.plainItem)
	if j.Architecture != "" {
		it.Arch = arch.FromOCI(j.Architecture)
	}
	return nil
}

// Kind says what an item of a plan is.
type Kind string

const (
	KindImage Kind = "image" // one architecture's manifest
	KindIndex Kind = "index" // the OCI index of the images
)

// Item is one manifest the plan writes by digest, and the tags it then gets.
type Item struct {
	Kind   Kind      `json:"kind"`
	Arch   arch.Arch `json:"-"` // in JSON: "architecture", OCI's name (see MarshalJSON)
	Digest string    `json:"digest"`
	Ref    string    `json:"ref"` // REPO@DIGEST
	Tags   []string  `json:"tags"`
	Size   int64     `json:"size"` // bytes of the manifest and the blobs it references, as stored

	// Referrers only: what the document is, and the digest of the image it is attached to.
	ArtifactType string `json:"artifactType,omitempty"`
	Subject      string `json:"subject,omitempty"`

	obj   remote.Taggable // v1.Image or v1.ImageIndex
	blobs []v1.Descriptor // config and layers, for counting what was uploaded
}

// Plan is everything one push writes, in order: Images, then Index, then every item's tags.
type Plan struct {
	Repo        string            `json:"repo"`
	Images      []*Item           `json:"images"`
	Index       *Item             `json:"index,omitempty"` // nil with NoIndex
	Referrers   []*Item           `json:"referrers"`       // documents attached to the images
	Annotations map[string]string `json:"annotations"`     // on the index and on each manifest
}

// Items are the plan's manifests in the order they are written.
func (p *Plan) Items() []*Item {
	out := slices.Clone(p.Images)
	if p.Index != nil {
		out = append(out, p.Index)
	}
	return out
}

// Refs are the digest references, index first (when there is one), for --image-refs.
func (p *Plan) Refs() []string {
	var out []string
	if p.Index != nil {
		out = append(out, p.Index.Ref)
	}
	for _, i := range p.Images {
		out = append(out, i.Ref)
	}
	return out
}

// ErrNoTags means neither a revision, nor latest, nor an extra tag gives the push a tag.
var ErrNoTags = errors.New("nothing to tag the push with: no branch and commit known, no --tag")

// Plan decides what a push writes. It reads the registry only for Refs and for the index tags'
// current indexes (to refuse losing architectures); it writes nothing.
func (p *Publisher) Plan(ctx context.Context, r Request) (*Plan, error) {
	if branchPart(r.Rev) == "" && len(p.o.tags) == 0 && !p.latest(r) {
		return nil, ErrNoTags
	}
	var plan *Plan
	var err error
	switch {
	case len(r.Images) > 0:
		plan, err = p.planImages(r)
	case len(r.Refs) > 0:
		plan, err = p.planRefs(ctx, r)
	default:
		return nil, errors.New("nothing to push")
	}
	if err != nil {
		return nil, err
	}
	if plan.Index != nil && !p.o.force {
		if err := p.checkReplace(ctx, plan); err != nil {
			return nil, err
		}
	}
	return plan, nil
}

// planImages plans the push of built images: each annotated, checked against its architecture.
func (p *Publisher) planImages(r Request) (*Plan, error) {
	var archs []arch.Arch
	for _, im := range r.Images {
		archs = append(archs, im.Arch)
	}
	tags := planTags(archs, r.Rev, p.latest(r), p.o.tags)
	var labels map[string]string
	if cfg, err := r.Images[0].Image.ConfigFile(); err == nil {
		labels = cfg.Config.Labels
	}
	plan := &Plan{Repo: p.Repo(), Annotations: annotations(labels, r.Rev, p.o.source, created(r))}
	var entries []indexEntry
	for _, im := range r.Images {
		cfg, err := im.Image.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("%s image: read config: %w", im.Arch, err)
		}
		if want := im.Arch.GOARCH(); cfg.Architecture != want || cfg.OS != "linux" {
			return nil, fmt.Errorf("refusing to push the %s image: its config says %s/%s, not linux/%s (was it built for another system?)", im.Arch, cfg.OS, cfg.Architecture, want)
		}
		img := mutate.Annotations(im.Image, plan.Annotations).(v1.Image)
		item, err := p.imageItem(im.Arch, img, tags.PerArch[im.Arch])
		if err != nil {
			return nil, err
		}
		plan.Images = append(plan.Images, item)
		entries = append(entries, indexEntry{img, &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}})
	}
	if err := p.planReferrers(plan, r.Attach); err != nil {
		return nil, err
	}
	if p.o.noIndex {
		return plan, nil
	}
	idx, err := p.indexItem(entries, plan.Annotations, tags.Index)
	if err != nil {
		return nil, err
	}
	plan.Index = idx
	return plan, nil
}

// planRefs plans the index of images already in the registry: each image's platform is read from
// its config there, and two images of one platform are refused.
func (p *Publisher) planRefs(ctx context.Context, r Request) (*Plan, error) {
	tags := planTags(nil, r.Rev, p.latest(r), p.o.tags)
	ann := annotations(nil, r.Rev, p.o.source, created(r))
	plan := &Plan{Repo: p.Repo(), Referrers: []*Item{}}
	var entries []indexEntry
	seen := map[string]string{}
	for _, ref := range r.Refs {
		d, err := name.NewDigest(ref)
		if err != nil {
			return nil, fmt.Errorf("invalid image reference %q: %v (accepted: REPO@sha256:DIGEST, as --image-refs writes)", ref, err)
		}
		if d.Context().Name() != p.Repo() {
			return nil, fmt.Errorf("image %s is not in %s: an index can only list images of its own repository", ref, p.Repo())
		}
		img, err := remote.Image(d, p.c.Options(ctx)...)
		if err != nil {
			return nil, p.c.Explain("read "+ref, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return nil, p.c.Explain("read the config of "+ref, err)
		}
		platform := cfg.OS + "/" + cfg.Architecture
		if prev, dup := seen[platform]; dup {
			return nil, fmt.Errorf("two images for %s: %s and %s", platform, prev, ref)
		}
		seen[platform] = ref
		// The index carries what the images say of themselves (description, licenses...) unless
		// the request says otherwise: the job that writes the index may not have the image labels.
		if m, err := img.Manifest(); err == nil {
			for k, v := range m.Annotations {
				if _, ok := ann[k]; !ok {
					ann[k] = v
				}
			}
		}
		item, err := p.imageItem(arch.FromOCI(cfg.Architecture), img, nil)
		if err != nil {
			return nil, err
		}
		plan.Images = append(plan.Images, item)
		entries = append(entries, indexEntry{img, &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}})
	}
	plan.Annotations = ann
	idx, err := p.indexItem(entries, ann, tags.Index)
	if err != nil {
		return nil, err
	}
	plan.Index = idx
	return plan, nil
}

// imageItem describes one image manifest: its digest and the blobs it references.
func (p *Publisher) imageItem(a arch.Arch, img v1.Image, tags []string) (*Item, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("%s image: %w", a, err)
	}
	d, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("%s image: %w", a, err)
	}
	raw, _ := img.RawManifest()
	it := &Item{Kind: KindImage, Arch: a, Digest: d.String(), Ref: p.c.Repo.Digest(d.String()).String(),
		Tags: nonNil(tags), Size: int64(len(raw)), obj: img, blobs: append([]v1.Descriptor{m.Config}, m.Layers...)}
	for _, b := range it.blobs {
		it.Size += b.Size
	}
	return it, nil
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// annotations are the OCI annotations for the index and manifests: the image's own OCI labels,
// with what is missing filled from the revision and source. created is when the source was
// committed (or the newest build's time): fixed for a commit, so the digests are too.
func annotations(labels map[string]string, rev *Revision, source string, created time.Time) map[string]string {
	const p = "org.opencontainers.image."
	a := map[string]string{}
	for _, k := range []string{"source", "revision", "created", "description", "licenses", "title", "version", "url"} {
		if v := labels[p+k]; v != "" {
			a[p+k] = v
		}
	}
	if a[p+"source"] == "" && source != "" {
		a[p+"source"] = source
	}
	if rev != nil && rev.Commit != "" {
		a[p+"revision"] = rev.Commit
	}
	// Nix images say 1970 for reproducibility; the index records when its source was made.
	if c := a[p+"created"]; c == "" || strings.HasPrefix(c, "1970") {
		a[p+"created"] = created.UTC().Format(time.RFC3339)
	}
	return a
}

// SourceFromEnv is the repository URL GitHub Actions names (GITHUB_SERVER_URL/GITHUB_REPOSITORY),
// or "".
func SourceFromEnv(getenv func(string) string) string {
	repo := getenv("GITHUB_REPOSITORY")
	if repo == "" {
		return ""
	}
	server := getenv("GITHUB_SERVER_URL")
	if server == "" {
		server = "https://github.com"
	}
	return server + "/" + repo
}
