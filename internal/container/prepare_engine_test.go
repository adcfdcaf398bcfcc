package container_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/e2e/testimage"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/testpeer"
)

// sleeper loads a busybox image whose entrypoint sleeps, so containers from it run until removed.
func sleeper(t *testing.T, eng engine.Engine) string {
	t.Helper()
	if !testimage.Exists("/bin/busybox") {
		testpeer.Missing(t, "busybox-static", "/bin/busybox is the test image's only program")
	}
	path := filepath.Join(t.TempDir(), "sleeper.tar")
	// A label of its own makes the image this test's alone: tests of other packages running at
	// the same time load the same sleeper, and would use (and remove) one shared image ID.
	spec := testimage.Sleeper("nixify-prepare-test:" + suffix())
	spec.Labels = map[string]string{"nixify.test.image": suffix()}
	id, err := testimage.Write(spec, path)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	refs, err := eng.ImageLoad(context.Background(), f, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.ImageRemove(context.Background(), refs[0]); eng.ImageRemove(context.Background(), id) })
	return id
}

// suffix makes names unique per run; docker wants them lower-case.
func suffix() string { return strings.ToLower(rand.Text()[:8]) }

// TestPrepareDecidesBeforeChangingAnything walks the states a container name can be in and checks
// what Prepare decides, and that a refused plan leaves the engine as it was.
func TestPrepareDecidesBeforeChangingAnything(t *testing.T) {
	eng := testpeer.Engine(t)
	ctx := context.Background()
	img := sleeper(t, eng)
	name, vol := "nixify-prepare-"+suffix(), "nixify-prepare-vol-"+suffix()
	t.Cleanup(func() { eng.ContainerRemove(ctx, name); eng.VolumeRemove(ctx, vol) })
	spec := container.Spec{Name: name, ImageID: img, Volume: vol, Bind: "127.0.0.1", Port: testpeer.FreePort(t),
		Publish: []config.Publish{{Service: "redis", HostPort: testpeer.FreePort(t)}}, StopTimeout: time.Second}

	start := func(s container.Spec) string {
		t.Helper()
		p, err := container.Prepare(ctx, eng, s)
		if err != nil {
			t.Fatal(err)
		}
		id, err := p.Apply(ctx, eng)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := container.Start(ctx, eng, id, true, s.Ports()); err != nil {
			t.Fatal(err)
		}
		return id
	}
	p, err := container.Prepare(ctx, eng, spec)
	if err != nil || p.Action != container.CreateNew {
		t.Fatalf("no container: %+v %v", p, err)
	}
	id := start(spec)

	// Running with the same image and settings: nothing to do. With other settings: refused,
	// with the state and what differs.
	if p, err := container.Prepare(ctx, eng, spec); err != nil || p.Action != container.AlreadyRunning || p.Old.ID != id {
		t.Fatalf("running, same spec: %+v %v", p, err)
	}
	var ee *container.ExistsError
	otherEnv := spec
	otherEnv.Env = []string{"POSTGRES_DB=x"}
	if _, err := container.Prepare(ctx, eng, otherEnv); !errors.As(err, &ee) || ee.State != "running" || !ee.Ours || !strings.Contains(ee.Differs, "POSTGRES_DB") {
		t.Fatalf("running, other env: %v", err)
	}
	// up (ReplaceOwn) leaves its own running container alone when nothing differs, and replaces it
	// only when it would run something else.
	own, ownOther := spec, otherEnv
	own.ReplaceOwn, ownOther.ReplaceOwn = true, true
	if p, err := container.Prepare(ctx, eng, own); err != nil || p.Action != container.AlreadyRunning || p.Old.ID != id {
		t.Fatalf("up, running, same spec: %+v %v", p, err)
	}
	if p, err := container.Prepare(ctx, eng, ownOther); err != nil || p.Action != container.ReplaceOld {
		t.Fatalf("up, running, other env: %+v %v", p, err)
	}
	// Replace onto a port something else holds: refused, and the container still runs.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	taken := spec
	taken.Replace, taken.Publish = true, []config.Publish{{Service: "postgres", HostPort: l.Addr().(*net.TCPAddr).Port}}
	var pe *container.PortInUseError
	if _, err := container.Prepare(ctx, eng, taken); !errors.As(err, &pe) || pe.Port != l.Addr().(*net.TCPAddr).Port {
		t.Fatalf("replace onto a taken port: %v", err)
	}
	// Replace with an environment the init would refuse: refused now, in the init's words.
	badEnv := spec
	badEnv.Replace, badEnv.Env = true, []string{"PG_PORT=5432x"}
	var enve *container.EnvError
	if _, err := container.Prepare(ctx, eng, badEnv); !errors.As(err, &enve) || !strings.Contains(err.Error(), `PG_PORT="5432x" is not a port`) {
		t.Fatalf("replace with a bad environment: %v", err)
	}
	// Replace keeping its own ports: they count as free, as the old container goes first.
	replace := spec
	replace.Replace = true
	if p, err := container.Prepare(ctx, eng, replace); err != nil || p.Action != container.ReplaceOld {
		t.Fatalf("replace on its own ports: %+v %v", p, err)
	}
	// Another container name on the same volume: refused, naming the user.
	other := spec
	other.Name, other.Port, other.Publish = name+"-other", testpeer.FreePort(t), nil
	var ve *container.VolumeInUseError
	if _, err := container.Prepare(ctx, eng, other); !errors.As(err, &ve) || ve.Users[0] != name {
		t.Fatalf("volume in use: %v", err)
	}
	if c, _ := eng.ContainerInspect(ctx, name); !c.Running || c.ID != id {
		t.Fatal("a refused plan changed the running container")
	}

	// Stopped: the same spec starts it again; other ports or another image do not.
	if err := eng.ContainerStop(ctx, id, time.Second); err != nil {
		t.Fatal(err)
	}
	if p, err := container.Prepare(ctx, eng, spec); err != nil || p.Action != container.StartExisting || p.Old.ID != id {
		t.Fatalf("stopped, same spec: %+v %v", p, err)
	}
	if p, err := container.Prepare(ctx, eng, own); err != nil || p.Action != container.StartExisting || p.Old.ID != id {
		t.Fatalf("up, stopped, same spec: %+v %v", p, err)
	}
	moved := spec
	moved.Publish = nil
	if _, err := container.Prepare(ctx, eng, moved); !errors.As(err, &ee) || ee.Differs != "other published ports" || ee.State != "exited" {
		t.Fatalf("stopped, other ports: %v", err)
	}
	withEnv := spec
	withEnv.Env = []string{"POSTGRES_DB=x"}
	if _, err := container.Prepare(ctx, eng, withEnv); !errors.As(err, &ee) || !strings.Contains(ee.Differs, "POSTGRES_DB") {
		t.Fatalf("stopped, other env: %v", err)
	}
	again, err := container.StartAgain(ctx, eng, mustInspect(t, eng, name))
	if err != nil || again == nil {
		t.Fatalf("start again: %v", err)
	}

	// Not nixify's: refused even when stopped.
	eng.ContainerRemove(ctx, id)
	if _, err := eng.ContainerCreate(ctx, engine.ContainerSpec{Name: name, Image: img}); err != nil {
		t.Fatal(err)
	}
	if _, err := container.Prepare(ctx, eng, spec); !errors.As(err, &ee) || ee.Ours || ee.State != "created" {
		t.Fatalf("not ours: %v", err)
	}
}

func mustInspect(t *testing.T, eng engine.Engine, name string) engine.Container {
	t.Helper()
	c, err := eng.ContainerInspect(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRefusedReplaceLeavesTheOldContainer (issue 21 item 2, the replace half): an image of another
// architecture is refused by Prepare, before anything changes; and should the engine refuse the
// new container anyway (here: a plan altered after Prepare, asking for arm64 of an amd64 image),
// the old container still runs under its name, because the new one is made before the old one goes.
func TestRefusedReplaceLeavesTheOldContainer(t *testing.T) {
	eng := testpeer.Engine(t)
	ctx := context.Background()
	img := sleeper(t, eng)
	name, vol := "nixify-replace-"+suffix(), "nixify-replace-vol-"+suffix()
	t.Cleanup(func() {
		eng.ContainerRemove(ctx, name)
		eng.VolumeRemove(ctx, vol)
	})
	spec := container.Spec{Name: name, ImageID: img, Arch: "x86_64", Volume: vol, Bind: "127.0.0.1", Port: testpeer.FreePort(t), StopTimeout: time.Second}
	p, err := container.Prepare(ctx, eng, spec)
	if err != nil {
		t.Fatal(err)
	}
	id, err := p.Apply(ctx, eng)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := container.Start(ctx, eng, id, true, spec.Ports()); err != nil {
		t.Fatal(err)
	}

	wrong := spec
	wrong.Replace, wrong.Arch = true, "aarch64"
	var ae *container.ArchError
	if _, err := container.Prepare(ctx, eng, wrong); !errors.As(err, &ae) || ae.Has != "amd64" || ae.Wants != "arm64" {
		t.Fatalf("replace with an image of another architecture: %v, want ArchError", err)
	}

	replace := spec
	replace.Replace = true
	p, err = container.Prepare(ctx, eng, replace)
	if err != nil || p.Action != container.ReplaceOld {
		t.Fatalf("replace: %+v %v", p, err)
	}
	p.Spec.Arch = "aarch64" // what Prepare would have refused
	if _, err := p.Apply(ctx, eng); err == nil {
		t.Fatal("the engine created an arm64 container from an amd64 image")
	}
	if c := mustInspect(t, eng, name); !c.Running || c.ID != id {
		t.Fatalf("a refused replace changed the old container: running %v, id %s (was %s)", c.Running, c.ID, id)
	}
	// Nothing of the refused new container is left (it was removed again), and clean would find
	// one a crash left behind.
	all, err := eng.ContainerList(ctx, container.LabelManaged, "true")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range all {
		if strings.HasPrefix(c.Name, name+"-nixify-replacing-") {
			t.Errorf("left behind: %s", c.Name)
		}
	}
	leftover, err := eng.ContainerCreate(ctx, engine.ContainerSpec{Name: container.ReplacingName(name), Image: img,
		Labels: map[string]string{container.LabelManaged: "true"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.ContainerRemove(ctx, leftover) })
	plan, err := container.PlanClean(ctx, eng, container.CleanOptions{Container: name})
	if err != nil || len(plan.Containers) != 2 {
		t.Fatalf("clean plan: %+v %v, want the container and the leftover", plan.Containers, err)
	}
}
