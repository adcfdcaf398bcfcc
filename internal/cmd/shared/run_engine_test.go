package shared_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/e2e/testimage"
	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/record"
	"github.com/nixify/nixify/internal/testpeer"
)

func suffix() string { return strings.ToLower(rand.Text()[:8]) }

// uniqueSleeper is the sleeper image with a label of its own, so that its ID is this test's alone:
// tests of other packages running at the same time load the same sleeper and would share (and
// remove, or see in use) one image ID.
func uniqueSleeper(tag string) testimage.Spec {
	s := testimage.Sleeper(tag)
	s.Labels = map[string]string{"nixify.test.image": suffix()}
	return s
}

// running starts a container of an amd64 sleeper image, as nixify would, and returns its ID and
// the archive of its image.
func running(t *testing.T, eng engine.Engine, cfg config.Config) (string, string) {
	t.Helper()
	if !testimage.Exists("/bin/busybox") {
		testpeer.Missing(t, "busybox-static", "/bin/busybox is the test image's only program")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sleeper.tar")
	tag := "nixify-run-order-test:" + suffix()
	id, err := testimage.Write(uniqueSleeper(tag), path)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	if _, err := eng.ImageLoad(ctx, f, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		eng.ContainerRemove(ctx, cfg.Container)
		eng.VolumeRemove(ctx, cfg.Volume)
		eng.ImageRemove(ctx, tag)
		for _, a := range arch.All {
			eng.ImageRemove(ctx, container.LoadedTag(cfg.Image, a.String(), id))
		}
		eng.ImageRemove(ctx, id)
	})
	spec := container.Spec{Name: cfg.Container, ImageID: id, Volume: cfg.Volume, Bind: cfg.Bind, Port: cfg.Port, StopTimeout: time.Second}
	p, err := container.Prepare(ctx, eng, spec)
	if err != nil {
		t.Fatal(err)
	}
	cid, err := p.Apply(ctx, eng)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := container.Start(ctx, eng, cid, true, spec.Ports()); err != nil {
		t.Fatal(err)
	}
	return cid, path
}

// TestRefusedReplaceLeavesEverythingAsItWas: `run --tar AMD64 --arch aarch64 --replace` once
// removed the running container, then failed, and named the amd64 image aarch64. The archive's
// platform is checked before anything is touched: refused with exit 2, the container still runs
// (the same one), and no image carries the aarch64 name. The same for a build record naming a
// sparse-file bomb (exit 2, before the engine sees a byte).
func TestRefusedReplaceLeavesEverythingAsItWas(t *testing.T) {
	eng := testpeer.Engine(t)
	ctx := context.Background()
	state := t.TempDir()
	cfg := config.Config{Container: "nixify-run-order-" + suffix(), Image: "nixify-run-order-" + suffix(), Volume: "nixify-run-order-vol-" + suffix(),
		Bind: "127.0.0.1", Port: testpeer.FreePort(t), StateDir: state}
	cid, archive := running(t, eng, cfg)
	held, err := eng.ContainerInspect(ctx, cfg.Container)
	if err != nil {
		t.Fatal(err)
	}
	bomb, _ := filepath.Abs("../../image/testdata/sparse-pax-1.0.tar.gz")
	if err := (record.Store{Dir: state}).Save(record.Build{Arch: arch.X86_64, OutPath: bomb, Kind: record.Tarball}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []shared.RunOptions{
		{Arch: arch.AArch64, Tar: archive, Replace: true},
		{Arch: arch.AArch64, Image: held.Image, Replace: true}, // --image goes through the same door
		{Arch: arch.X86_64, Replace: true},                     // the record's bomb
	} {
		io, _, _, _ := iostreams.Test()
		o.IO = io
		o.Config = func() (*config.Loaded, error) { return &config.Loaded{Config: cfg}, nil }
		o.Engine = func() (engine.Engine, error) {
			ep, err := engine.ResolveEndpoint("", os.Getenv)
			if err != nil {
				return nil, err
			}
			return engine.New(ep)
		}
		o.Timeout, o.StopTimeout = time.Minute, time.Second
		err := shared.Run(ctx, &o)
		if cli.Code(err) != cli.ExitUsage || strings.Contains(err.Error(), "\n") {
			t.Errorf("run --arch %s --tar %q --image %q --replace: exit %d, %v; want 2", o.Arch, o.Tar, o.Image, cli.Code(err), err)
		}
		c, err := eng.ContainerInspect(ctx, cfg.Container)
		if err != nil || c.ID != cid || !c.Running {
			t.Fatalf("after the refused replace the container is %+v (%v); want %s still running", c, err, cid)
		}
		if imgs, _ := eng.ImageList(ctx, cfg.Image); len(imgs) != 0 {
			t.Errorf("images named %s after the refused replace: %+v", cfg.Image, imgs)
		}
	}
}

// TestTwoRunsAtOnce: two `nixify run` of the same name at once. The loser of the race to create
// the container used to print the engine's raw "Conflict. The container name "/x" is already in
// use by container <64 hex>" and exit 1. Now it finds the winner's container (nixify's, same image
// and settings) and treats it as `run` treats a running one: it waits for it, so both runs end
// alike (here exit 3: the sleeper never answers health), and neither prints the engine's words.
func TestTwoRunsAtOnce(t *testing.T) {
	eng := testpeer.Engine(t)
	if !testimage.Exists("/bin/busybox") {
		testpeer.Missing(t, "busybox-static", "/bin/busybox is the test image's only program")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sleeper.tar")
	tag := "nixify-run-race-test:" + suffix()
	id, err := testimage.Write(uniqueSleeper(tag), path)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	if _, err := eng.ImageLoad(ctx, f, nil); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		cfg := config.Config{Container: "nixify-run-race-" + suffix(), Image: "nixify-run-race-" + suffix(), Volume: "nixify-run-race-vol-" + suffix(),
			Bind: "127.0.0.1", Port: testpeer.FreePort(t), StateDir: t.TempDir()}
		t.Cleanup(func() {
			eng.ContainerRemove(ctx, cfg.Container)
			eng.VolumeRemove(ctx, cfg.Volume)
			for _, a := range arch.All {
				eng.ImageRemove(ctx, container.LoadedTag(cfg.Image, a.String(), id))
			}
		})
		errs := make([]error, 2)
		outs := make([]*strings.Builder, 2)
		done := make(chan struct{})
		for i := range 2 {
			go func() {
				defer func() { done <- struct{}{} }()
				io, _, out, errOut := iostreams.Test()
				o := shared.RunOptions{IO: io, Arch: arch.X86_64, Tar: path, Timeout: 3 * time.Second, StopTimeout: time.Second}
				o.Config = func() (*config.Loaded, error) { return &config.Loaded{Config: cfg}, nil }
				o.Engine = func() (engine.Engine, error) {
					ep, err := engine.ResolveEndpoint("", os.Getenv)
					if err != nil {
						return nil, err
					}
					return engine.New(ep)
				}
				errs[i] = shared.Run(ctx, &o)
				outs[i] = &strings.Builder{}
				outs[i].WriteString(out.String() + errOut.String())
			}()
		}
		<-done
		<-done
		for i, err := range errs {
			msg := outs[i].String()
			if err != nil {
				msg += err.Error()
				if e := cli.Hint(err); e != "" {
					msg += "\n" + e
				}
			}
			if strings.Contains(msg, "Conflict") || strings.Contains(msg, "already in use by container") {
				t.Errorf("round %d, run %d printed the engine's raw error: %s", round, i, msg)
			}
			if c := cli.Code(err); c != cli.ExitUnhealthy {
				t.Errorf("round %d, run %d: exit %d (%v); want %d as the other run (the sleeper never answers health)", round, i, c, err, cli.ExitUnhealthy)
			}
		}
		t.Logf("round %d: %v | %v\n%s\n%s", round, errs[0], errs[1], outs[0], outs[1])
	}
}
