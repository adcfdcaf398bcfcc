package container

import (
	"context"
	"slices"

	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
)

// LoadedTag is the name nixify gives an image it loaded: the configured image repository, the
// architecture and the start of the image ID, so that each loaded image keeps a name of its own.
func LoadedTag(repo, arch, imageID string) string {
	return repo + ":" + arch + "-" + iostreams.ShortID(imageID)
}

// NameLoaded names a loaded image with LoadedTag unless it carries that name already. Images
// cannot be labelled after they are built, so the name is nixify's mark on what it loaded: clean
// --images finds it after every container that used it is gone.
func NameLoaded(ctx context.Context, eng engine.Images, repo, arch, imageID string) error {
	tag := LoadedTag(repo, arch, imageID)
	if img, err := eng.ImageInspect(ctx, imageID); err == nil && slices.Contains(img.RepoTags, tag) {
		return nil
	}
	return eng.ImageTag(ctx, imageID, tag)
}
