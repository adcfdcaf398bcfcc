package publish

import (
	"context"
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

// Request is what the caller wants shipped; the Publisher turns it into a Plan.
type Request struct {
	Images []Image   // the images to push, one per architecture
	Refs   []string  // or: digest references of images already pushed, to index (REPO@sha256:...)
	Rev    *Revision // the commit the images were built from; nil when unknown (then Tags are needed)
	Latest bool      // also tag latest (the default branch, or asked)
	Tags   []string  // extra tags for the index
	// Source is org.opencontainers.image.source when the images' labels lack it.
	Source string
	// Created is when the source was committed: fixed for a commit, so the same commit pushed twice
	// gives the same digests and a dry run predicts them.
	Created time.Time
	// NoIndex pushes the images and their per-architecture tags only; a later push of Refs, in
	// another job, writes the index (CI builds each architecture on its own runner).
	NoIndex bool
	// Force lets an index tag lose architectures: without it, a push whose index lacks an
	// architecture that the tag's current index has is refused.
	Force bool
	// Attach gives the documents (SBOM, provenance) to attach to each image; nil attaches none.
	Attach AttachFunc
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
	Arch   arch.Arch `json:"arch,omitempty"`
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
	for _, t := range r.Tags {
		if err := ValidTag(t); err != nil {
			return nil, err
		}
	}
	if (r.Rev == nil || r.Rev.Branch == "") && len(r.Tags) == 0 && !r.Latest {
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
	if plan.Index != nil && !r.Force {
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
	tags := PlanTags(archs, r.Rev, r.Latest, r.Tags)
	var labels map[string]string
	if cfg, err := r.Images[0].Image.ConfigFile(); err == nil {
		labels = cfg.Config.Labels
	}
	plan := &Plan{Repo: p.Repo(), Annotations: Annotations(labels, r.Rev, r.Source, r.Created)}
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
	if r.NoIndex {
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
	tags := PlanTags(nil, r.Rev, r.Latest, r.Tags)
	annotations := Annotations(nil, r.Rev, r.Source, r.Created)
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
				if _, ok := annotations[k]; !ok {
					annotations[k] = v
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
	plan.Annotations = annotations
	idx, err := p.indexItem(entries, annotations, tags.Index)
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

// Annotations returns the OCI annotations for the index and manifests: the image's own OCI labels,
// with what is missing filled from the revision and source. created is when the source was
// committed (or the newest build's time): fixed for a commit, so the digests are too.
func Annotations(labels map[string]string, rev *Revision, source string, created time.Time) map[string]string {
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
