package container_test

import (
	"context"
	"slices"
	"testing"

	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/testpeer"
)

// TestCleanKeepsImagesOthersUse: an image nixify ran is removed with its container, but while a
// container clean does not remove (another configuration's, or one made by hand) still uses it,
// the image stays and the plan names that container, instead of the whole clean failing on the
// engine's "image is being used" conflict.
func TestCleanKeepsImagesOthersUse(t *testing.T) {
	eng := testpeer.Engine(t)
	ctx := context.Background()
	img := sleeper(t, eng)
	ours, other := "nixify-clean-"+suffix(), "nixify-clean-other-"+suffix()
	t.Cleanup(func() { eng.ContainerRemove(ctx, ours); eng.ContainerRemove(ctx, other) })
	for _, name := range []string{ours, other} {
		if _, err := eng.ContainerCreate(ctx, engine.ContainerSpec{Name: name, Image: img,
			Labels: map[string]string{container.LabelManaged: "true"}}); err != nil {
			t.Fatal(err)
		}
	}
	opts := container.CleanOptions{Container: ours, Images: true}
	plan, err := container.PlanClean(ctx, eng, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Containers) != 1 || plan.Containers[0].Name != ours {
		t.Fatalf("containers %+v, want only %s", plan.Containers, ours)
	}
	if slices.Contains(plan.Images, img) || len(plan.Kept) != 1 || plan.Kept[0].ID != img ||
		!slices.Equal(plan.Kept[0].UsedBy, []string{other}) {
		t.Fatalf("images %v kept %+v: want %s kept, used by %s", plan.Images, plan.Kept, img, other)
	}
	if err := plan.Apply(ctx, eng); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if _, err := eng.ImageInspect(ctx, img); err != nil {
		t.Fatalf("the image another container uses was removed: %v", err)
	}

	// Once nothing else uses it, the next clean removes it.
	if err := eng.ContainerRemove(ctx, other); err != nil {
		t.Fatal(err)
	}
	opts.KnownImages = []string{img}
	plan, err = container.PlanClean(ctx, eng, opts)
	if err != nil || !slices.Contains(plan.Images, img) || len(plan.Kept) != 0 {
		t.Fatalf("after the other container went: %+v %v", plan, err)
	}
}
