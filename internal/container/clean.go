package container

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/nixify/nixify/internal/engine"
)

// CleanPlan lists what clean would remove: only objects nixify made, found by its label
// (containers, volumes), by the config digests nixify recorded, or by the name nixify gives what
// it loads (images, which cannot be labelled after they are built: see NameLoaded).
type CleanPlan struct {
	Containers []engine.Container `json:"containers"`
	Images     []string           `json:"images"`
	Volumes    []engine.Volume    `json:"volumes"`
	// Kept are images nixify would remove but a container it does not remove still uses (another
	// configuration's, or one made by hand from the same image): they stay, and clean says why.
	Kept []KeptImage `json:"kept"`
}

// KeptImage is an image clean leaves because other containers use it.
type KeptImage struct {
	ID     string   `json:"id"`
	UsedBy []string `json:"usedBy"`
}

// CleanOptions choose what is planned for removal. Containers and volumes must carry nixify's
// label and have the configured names: another project's nixify container on the same engine
// (another name) is not this one's to remove, and neither is its data.
type CleanOptions struct {
	Container string // the configured container name
	Volume    string // the configured data volume
	Images    bool
	Volumes   bool
	// KnownImages are config digests nixify recorded (build records); the images its containers
	// use and the images named in Repo by NameLoaded are added to them.
	KnownImages []string
	Repo        string // the configured image name
}

// PlanClean finds nixify's objects on the engine.
func PlanClean(ctx context.Context, eng engine.Engine, o CleanOptions) (CleanPlan, error) {
	var p CleanPlan
	all, err := eng.ContainerList(ctx, LabelManaged, "true")
	if err != nil {
		return p, err
	}
	var cs []engine.Container
	for _, c := range all {
		if n := strings.TrimPrefix(c.Name, "/"); n == o.Container || isReplacing(n, o.Container) {
			cs = append(cs, c)
		}
	}
	p.Containers = cs
	if o.Images {
		ids := slices.Clone(o.KnownImages)
		for _, c := range cs {
			ids = append(ids, c.Labels[LabelConfigDigest], c.Image)
		}
		if o.Repo != "" {
			named, err := eng.ImageList(ctx, o.Repo)
			if err != nil {
				return p, err
			}
			for _, img := range named {
				ids = append(ids, img.ID)
			}
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if id == "" || seen[id] {
				continue
			}
			seen[id] = true
			img, err := eng.ImageInspect(ctx, id)
			if errors.Is(err, engine.ErrNotFound) {
				continue
			}
			if err != nil {
				return p, err
			}
			if slices.Contains(p.Images, img.ID) || slices.ContainsFunc(p.Kept, func(k KeptImage) bool { return k.ID == img.ID }) {
				continue
			}
			users, err := otherUsers(ctx, eng, img.ID, cs)
			if err != nil {
				return p, err
			}
			if len(users) > 0 {
				p.Kept = append(p.Kept, KeptImage{ID: img.ID, UsedBy: users})
				continue
			}
			p.Images = append(p.Images, img.ID)
		}
	}
	if o.Volumes {
		vs, err := eng.VolumeList(ctx, LabelManaged, "true")
		if err != nil {
			return p, err
		}
		for _, v := range vs {
			if v.Name == o.Volume {
				p.Volumes = append(p.Volumes, v)
			}
		}
	}
	return p, nil
}

// otherUsers names the containers that use the image and are not among those being removed.
func otherUsers(ctx context.Context, eng engine.Engine, imageID string, removed []engine.Container) ([]string, error) {
	users, err := eng.ContainersUsingImage(ctx, imageID)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, u := range users {
		if !slices.ContainsFunc(removed, func(c engine.Container) bool { return c.ID == u.ID }) {
			names = append(names, u.Name)
		}
	}
	return names, nil
}

// Apply removes the plan's objects: containers first, as they hold the images and volumes; a
// running container is stopped in order first (as `nixify stop` does), never killed with its
// services' data unwritten. It goes on after a failure and returns the failures joined.
func (p CleanPlan) Apply(ctx context.Context, eng engine.Engine) error {
	var errs []error
	for _, c := range p.Containers {
		if c, err := eng.ContainerInspect(ctx, c.ID); err == nil {
			if _, err := stop(ctx, eng, c, 0); err != nil {
				errs = append(errs, err)
				continue
			}
		} else if !errors.Is(err, engine.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		if err := eng.ContainerRemove(ctx, c.ID); err != nil && !errors.Is(err, engine.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	for _, id := range p.Images {
		if err := removeImage(ctx, eng, id); err != nil {
			errs = append(errs, err)
		}
	}
	for _, v := range p.Volumes {
		if err := eng.VolumeRemove(ctx, v.Name); err != nil && !errors.Is(err, engine.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeImage removes an image by each of its names, then by ID: an image with several names
// (the archive's own and the one NameLoaded gave it) cannot be removed by ID without force.
func removeImage(ctx context.Context, eng engine.Engine, id string) error {
	img, err := eng.ImageInspect(ctx, id)
	if errors.Is(err, engine.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, tag := range img.RepoTags {
		if err := eng.ImageRemove(ctx, tag); err != nil && !errors.Is(err, engine.ErrNotFound) {
			return err
		}
	}
	if err := eng.ImageRemove(ctx, id); err != nil && !errors.Is(err, engine.ErrNotFound) {
		return err
	}
	return nil
}
