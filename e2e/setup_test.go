// Package e2e holds nixify's end-to-end tests: the real nixify commands (run, health, logs, stop,
// clean) against the real Docker engine, with the real nixify-init, PostgreSQL and Redis inside the
// container.
//
// The Nix-built image cannot be built on the test machines, so the tests assemble their image with
// go-containerregistry (package testimage): the static nixify-init plus Debian's PostgreSQL 15 and
// Redis with the shared libraries, data files and passwd entries they need, and busybox as /bin/sh.
// A second, static-only image for arm64 (nixify-init and a labelled Redis stand-in) runs under qemu
// emulation to exercise `run --arch aarch64`.
//
// Run them with `go test ./e2e/` (they need the Docker engine, postgresql, redis-server,
// busybox-static and, for arm64, qemu-user-static with binfmt). Under CI=true a missing peer fails.
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nixify/nixify/e2e/testimage"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/root"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/testpeer"
)

// workDir holds what is built once per test run: binaries and image archives.
var workDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nixify-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func moduleRoot(t testing.TB) string {
	t.Helper()
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}

type archive struct {
	path, digest, tag string
	err               error
}

var (
	fullOnce sync.Once
	full     archive
	armOnce  sync.Once
	arm      archive
)

// fullImage assembles the x86_64 image with PostgreSQL and Redis once per test run.
func fullImage(t *testing.T) archive {
	t.Helper()
	for _, bin := range []string{"/usr/bin/redis-server", "/usr/bin/redis-cli", "/bin/busybox", filepath.Join(testimage.PostgresBin, "postgres")} {
		if !testimage.Exists(bin) {
			testpeer.Missing(t, bin, "the test image copies it from this machine")
		}
	}
	fullOnce.Do(func() {
		full.tag = "nixify-e2e:" + randomSuffix()
		init, err := testimage.BuildInit(moduleRoot(t), "amd64", workDir)
		if err != nil {
			full.err = err
			return
		}
		spec, err := testimage.Services(init, full.tag)
		if err != nil {
			full.err = err
			return
		}
		// The image is otherwise the same bytes in every run: a label of this run's keeps a
		// concurrent run's containers (another checkout's tests on the same engine) off it.
		spec.Labels["io.nixify.test.run"] = full.tag
		full.path = filepath.Join(workDir, "full.tar")
		full.digest, full.err = testimage.Write(spec, full.path)
	})
	if full.err != nil {
		t.Fatalf("assemble the test image: %v", full.err)
	}
	return full
}

// armImage assembles the static-only arm64 image once per test run.
func armImage(t *testing.T) archive {
	t.Helper()
	data, err := os.ReadFile("/proc/sys/fs/binfmt_misc/qemu-aarch64")
	if err != nil || !strings.HasPrefix(string(data), "enabled") {
		testpeer.Missing(t, "qemu-aarch64 binfmt", "arm64 containers cannot run on this machine (install qemu-user-static, enable binfmt)")
	}
	armOnce.Do(func() {
		arm.tag = "nixify-e2e-arm64:" + randomSuffix()
		root := moduleRoot(t)
		init, err := testimage.BuildInit(root, "arm64", workDir)
		if err != nil {
			arm.err = err
			return
		}
		standIn, err := testimage.BuildStatic(root, "./e2e/testdata/redisstandin", "arm64", filepath.Join(workDir, "redis-standin-arm64"))
		if err != nil {
			arm.err = err
			return
		}
		arm.path = filepath.Join(workDir, "arm64.tar")
		spec := testimage.Static(init, standIn, "arm64", arm.tag)
		spec.Labels = map[string]string{"io.nixify.test.run": arm.tag}
		arm.digest, arm.err = testimage.Write(spec, arm.path)
	})
	if arm.err != nil {
		t.Fatalf("assemble the arm64 test image: %v", arm.err)
	}
	return arm
}

func randomSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// env is one test's nixify configuration: its own container, volume, port and state directory,
// so that nothing it does reaches objects of other tests or other programs.
type env struct {
	t         *testing.T
	vars      map[string]string
	container string
	volume    string
	image     string
	port      int
	stateDir  string
}

func newEnv(t *testing.T) *env {
	suffix := randomSuffix()
	e := &env{t: t, container: "nixify-e2e-" + suffix, volume: "nixify-e2e-data-" + suffix, image: "nixify-e2e-run-" + suffix,
		port: testpeer.FreePort(t), stateDir: t.TempDir()}
	e.vars = map[string]string{
		"NIXIFY_CONTAINER": e.container, "NIXIFY_VOLUME": e.volume, "NIXIFY_IMAGE": e.image,
		"NIXIFY_PORT": fmt.Sprint(e.port), "NIXIFY_STATE_DIR": e.stateDir,
		"NO_COLOR": "1", "XDG_CONFIG_HOME": t.TempDir(),
	}
	return e
}

// removeAfter removes, when the test ends, what the test's nixify runs may have left on the
// engine: the env's container and volume, the names run gave what it loaded, and the image img.
func (e *env) removeAfter(eng engine.Engine, img archive) {
	e.t.Cleanup(func() {
		ctx := context.Background()
		eng.ContainerRemove(ctx, e.container)
		eng.VolumeRemove(ctx, e.volume)
		named, _ := eng.ImageList(ctx, e.image)
		for _, im := range named {
			for _, tag := range im.RepoTags {
				eng.ImageRemove(ctx, tag)
			}
		}
		eng.ImageRemove(ctx, img.digest)
	})
}

type result struct {
	code        int
	out, errOut string
}

// nixify runs the real command tree in-process, as the nixify binary does.
func (e *env) nixify(args ...string) result {
	e.t.Helper()
	return e.nixifyIn("", args...)
}

// nixifyIn is nixify with stdin, as a pipe gives it.
func (e *env) nixifyIn(stdin string, args ...string) result {
	e.t.Helper()
	io, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	f := &cli.Factory{IO: io, WorkDir: e.stateDir, Getenv: func(k string) string {
		if v, ok := e.vars[k]; ok {
			return v
		}
		return os.Getenv(k)
	}}
	code := root.Main(f, args)
	r := result{code, out.String(), errOut.String()}
	e.t.Logf("nixify %s: exit %d\n%s%s", strings.Join(args, " "), code, r.out, r.errOut)
	return r
}
