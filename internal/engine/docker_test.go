package engine_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixify/nixify/e2e/testimage"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/testpeer"
)

// busyboxImage loads a one-file image (busybox-static as /bin/sh) into the real engine and returns
// its ID; the image is removed when the test ends.
func busyboxImage(t *testing.T, eng engine.Engine) string {
	t.Helper()
	if !testimage.Exists("/bin/busybox") {
		testpeer.Missing(t, "busybox-static", "/bin/busybox is the test image's only program")
	}
	path := filepath.Join(t.TempDir(), "bb.tar")
	spec := testimage.Spec{Tag: "nixify-engine-test:" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), Arch: "amd64",
		Entries: []testimage.Entry{{Path: "/bin/busybox", From: "/bin/busybox"}, {Path: "/bin/sh", Link: "busybox"}},
		Env:     []string{"PATH=/bin"}, Entrypoint: []string{"/bin/sh", "-c"}}
	id, err := testimage.Write(spec, path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var mu sync.Mutex
	var events []engine.LoadEvent
	refs, err := eng.ImageLoad(context.Background(), f, func(ev engine.LoadEvent) { mu.Lock(); events = append(events, ev); mu.Unlock() })
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0] != spec.Tag || len(events) == 0 {
		t.Fatalf("ImageLoad: refs %v, %d events", refs, len(events))
	}
	t.Cleanup(func() { eng.ImageRemove(context.Background(), id) })
	return id
}

func TestContainerLifeOnTheRealEngine(t *testing.T) {
	eng := testpeer.Engine(t)
	ctx := context.Background()
	id := busyboxImage(t, eng)
	name := "nixify-engine-test-" + time.Now().Format("150405.000000")
	name = strings.ReplaceAll(name, ".", "")
	vol := name + "-vol"
	if err := eng.VolumeCreate(ctx, vol, map[string]string{"io.nixify.test": "yes"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.VolumeRemove(context.Background(), vol) })
	spec := engine.ContainerSpec{Name: name, Image: id, Labels: map[string]string{"io.nixify.test": "yes"},
		Env:     []string{"GREETING=hi"},
		Volumes: []engine.VolumeMount{{Volume: vol, Target: "/data"}}}
	cid, err := eng.ContainerCreate(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.ContainerRemove(context.Background(), cid) })
	if _, err := eng.ContainerCreate(ctx, spec); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("second create with the same name: %v, want ErrConflict", err)
	}
	// Busybox's sh as entrypoint with "-c" needs the script as Cmd; ContainerSpec has none, so the
	// container runs `sh -c` with no script and exits 2 at once: the wait channel, asked for before
	// the start, must see that exit.
	exited := eng.ContainerWait(ctx, cid)
	if err := eng.ContainerStart(ctx, cid); err != nil {
		t.Fatal(err)
	}
	select {
	case x := <-exited:
		if x.Code != 2 {
			t.Fatalf("exit code %d, want 2 (sh -c without a script)", x.Code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the exit was never reported")
	}
	c, err := eng.ContainerInspect(ctx, name)
	if err != nil || c.Running || c.ExitCode != 2 || c.Labels["io.nixify.test"] != "yes" {
		t.Fatalf("inspect: %+v %v", c, err)
	}
	var stdout, stderr bytes.Buffer
	if err := eng.ContainerLogs(ctx, cid, engine.LogOptions{}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if stdout.Len() != 0 || !strings.Contains(stderr.String(), "-c requires an argument") {
		t.Fatalf("logs not split: stdout %q stderr %q", stdout.String(), stderr.String())
	}
	list, err := eng.ContainerList(ctx, "io.nixify.test", "yes")
	if err != nil || len(list) != 1 || list[0].Name != name {
		t.Fatalf("list by label: %+v %v", list, err)
	}
	vols, err := eng.VolumeList(ctx, "io.nixify.test", "yes")
	if err != nil || len(vols) != 1 || vols[0].Name != vol {
		t.Fatalf("volumes by label: %+v %v", vols, err)
	}
	if err := eng.VolumeRemove(ctx, vol); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("removing a volume in use: %v, want ErrConflict", err)
	}
	if err := eng.ContainerRemove(ctx, cid); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.ContainerInspect(ctx, cid); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("inspect after remove: %v, want ErrNotFound", err)
	}
}

func TestImageLoadRefusesGarbage(t *testing.T) {
	eng := testpeer.Engine(t)
	_, err := eng.ImageLoad(context.Background(), strings.NewReader(strings.Repeat("not a tar archive\n", 100)), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "load image") {
		t.Fatalf("err = %v", err)
	}
}

func TestUnreachableEngineIsErrUnavailable(t *testing.T) {
	eng, err := engine.New(engine.Endpoint{Host: "unix://" + filepath.Join(t.TempDir(), "none.sock"), Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	_, err = eng.ContainerInspect(context.Background(), "x")
	if !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

// TestExecReadFileAndVolumeUsers: attached exec with stdin, split output and the exit code, with a
// terminal of the size asked for; a 0600 root file read through the engine; the running containers
// that mount a volume; an image named and listed by its repository.
func TestExecReadFileAndVolumeUsers(t *testing.T) {
	eng := testpeer.Engine(t)
	ctx := context.Background()
	if !testimage.Exists("/bin/busybox") {
		testpeer.Missing(t, "busybox-static", "/bin/busybox is the test image's only program")
	}
	path := filepath.Join(t.TempDir(), "sleeper.tar")
	tag := "nixify-engine-exec:" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	id, err := testimage.Write(testimage.Sleeper(tag), path)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	_, err = eng.ImageLoad(ctx, f, nil)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	repo := "nixify-engine-exec-named"
	t.Cleanup(func() { eng.ImageRemove(ctx, repo+":x"); eng.ImageRemove(ctx, tag); eng.ImageRemove(ctx, id) })
	if err := eng.ImageTag(ctx, id, repo+":x"); err != nil {
		t.Fatal(err)
	}
	if list, err := eng.ImageList(ctx, repo); err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("ImageList(%s): %+v %v", repo, list, err)
	}

	name := "nixify-engine-exec-" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	vol := name + "-vol"
	t.Cleanup(func() { eng.ContainerRemove(ctx, name); eng.VolumeRemove(ctx, vol) })
	cid, err := eng.ContainerCreate(ctx, engine.ContainerSpec{Name: name, Image: id, Volumes: []engine.VolumeMount{{Volume: vol, Target: "/data"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.ContainerStart(ctx, cid); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code, err := eng.ContainerAttachExec(ctx, cid, engine.ExecSpec{Cmd: []string{"sh", "-c", "cat; echo \"$X\" >&2; exit 7"}, Env: []string{"X=from-env"}},
		engine.ExecStreams{Stdin: strings.NewReader("from stdin\n"), Stdout: &out, Stderr: &errOut})
	if err != nil || code != 7 || out.String() != "from stdin\n" || errOut.String() != "from-env\n" {
		t.Fatalf("exec: code %d err %v stdout %q stderr %q", code, err, out.String(), errOut.String())
	}
	resize := make(chan engine.TermSize, 1)
	resize <- engine.TermSize{Rows: 33, Cols: 101}
	out.Reset()
	code, err = eng.ContainerAttachExec(ctx, cid, engine.ExecSpec{Cmd: []string{"busybox", "tty"}, TTY: true},
		engine.ExecStreams{Stdout: &out, Resize: resize})
	// busybox-static's stty cannot read a terminal's size here (ECHILD), so only the terminal
	// itself is checked; the size goes with the exec's creation.
	if err != nil || code != 0 || !strings.HasPrefix(out.String(), "/dev/pts/") {
		t.Fatalf("exec with a terminal: code %d err %v output %q", code, err, out.String())
	}

	r, err := eng.ContainerExec(ctx, cid, []string{"sh", "-c", "mkdir -p -m 700 /data/secrets && umask 077 && printf 's3cret\\n' > /data/secrets/pw"}, "")
	if err != nil || r.ExitCode != 0 {
		t.Fatalf("write the secret: %+v %v", r, err)
	}
	b, err := eng.ContainerReadFile(ctx, cid, "/data/secrets/pw", 1024)
	if err != nil || string(b) != "s3cret\n" {
		t.Fatalf("ContainerReadFile: %q %v", b, err)
	}
	if _, err := eng.ContainerReadFile(ctx, cid, "/data/secrets/none", 1024); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("a missing file: %v, want ErrNotFound", err)
	}
	if _, err := eng.ContainerReadFile(ctx, cid, "/data/secrets/pw", 3); err == nil {
		t.Fatal("a file larger than the limit was read")
	}
	users, err := eng.ContainersUsingVolume(ctx, vol)
	if err != nil || len(users) != 1 || users[0].Name != name {
		t.Fatalf("ContainersUsingVolume: %+v %v", users, err)
	}
	c, err := eng.ContainerInspect(ctx, cid)
	if err != nil || len(c.Volumes) != 1 || c.Volumes[0].Volume != vol || !slices.Contains(c.Env, "PATH=/bin") {
		t.Fatalf("inspect: volumes %+v env %v %v", c.Volumes, c.Env, err)
	}
}
