package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/testpeer"
)

// TestRunArm64UnderEmulation runs the static-only arm64 image with `run --arch aarch64`: the engine
// creates an arm64 container, qemu runs nixify-init, and run waits until its health server (checking
// the Redis stand-in) says ready.
func TestRunArm64UnderEmulation(t *testing.T) {
	eng := testpeer.Engine(t)
	img := armImage(t)
	e := newEnv(t)
	ctx := context.Background()
	e.removeAfter(eng, img)
	r := e.nixify("run", "--arch", "aarch64", "--tar", img.path, "--timeout", "90s")
	if r.code != 0 || !strings.Contains(r.out, "is healthy at") || !strings.Contains(r.out, "redis\tpass") {
		t.Fatalf("run --arch aarch64: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	im, err := eng.ImageInspect(ctx, img.digest)
	if err != nil || im.Architecture != "arm64" {
		t.Fatalf("image architecture: %q %v", im.Architecture, err)
	}
	c, err := eng.ContainerInspect(ctx, e.container)
	if err != nil || c.Labels[container.LabelArch] != "aarch64" || !c.Running {
		t.Fatalf("container: %+v %v", c, err)
	}
	// The wrong --arch for an image the engine holds is one line saying which to pass.
	r = e.nixify("run", "--arch", "x86_64", "--image", img.digest, "--replace")
	if r.code != 2 || !strings.Contains(r.errOut, "is for arm64, not amd64") {
		t.Fatalf("run with the wrong --arch: exit %d, %q", r.code, r.errOut)
	}
	r = e.nixify("stop")
	if r.code != 0 {
		t.Fatalf("stop: exit %d", r.code)
	}
}
