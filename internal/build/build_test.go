package build

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	statedir "github.com/nixify/nixify/internal/state"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/nix"
	"github.com/nixify/nixify/internal/record"
	"github.com/nixify/nixify/internal/testpeer"
)

// These tests run Debian's real nix (nix-bin) on the local flake in testdata/flake, which has no
// inputs and builds offline with /bin/sh. They share /nix/store; a nonce per test forces fresh builds.

// testConfig is the Nix configuration of the tests: flakes on, no binary cache (offline), no
// sandbox and no build users (single-user root, as Debian's nix-bin runs here).
const testConfig = "experimental-features = nix-command flakes\nsubstituters =\nsandbox = false\nbuild-users-group ="

func testNix(t *testing.T, args ...string) *nix.Nix {
	t.Helper()
	p := testpeer.Binary(t, "nix")
	if arch.HostSystem() != "x86_64-linux" {
		t.Skipf("skipping: the test flake is written for an x86_64-linux host, this is %s", arch.HostSystem())
	}
	return &nix.Nix{Path: p, Args: args, Env: []string{"NIX_CONFIG=" + testConfig}}
}

// testFlake copies the test flake to a fresh directory with a nonce of its own and returns its
// path: flake reference.
func testFlake(t *testing.T) (ref, dir string) {
	t.Helper()
	dir = t.TempDir()
	for _, f := range []string{"flake.nix", "build-archive.sh"} {
		data, err := os.ReadFile(filepath.Join("testdata", "flake", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setNonce(t, dir)
	return "path:" + dir, dir
}

func setNonce(t *testing.T, dir string) {
	t.Helper()
	nonce := fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(dir, "nonce"), []byte(nonce), 0o644); err != nil {
		t.Fatal(err)
	}
}

// archiveConfig reads a docker-archive with archive/tar alone and returns its config file.
func archiveConfig(t *testing.T, r io.Reader) []byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name], _ = io.ReadAll(tr)
	}
	var m []struct{ Config string }
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil || len(m) != 1 {
		t.Fatalf("manifest.json: %v %s", err, files["manifest.json"])
	}
	return files[m[0].Config]
}

func digest(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

func TestBuildTarballThenStream(t *testing.T) {
	n := testNix(t)
	ref, _ := testFlake(t)
	state := t.TempDir()
	ctx := context.Background()

	res, err := Run(ctx, n, Options{Flake: ref, Attr: "image", Archs: []arch.Arch{arch.X86_64}, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	b := res[0].Record
	if res[0].Plan.Strategy != Native || b.Kind != record.Tarball || b.System != "x86_64-linux" || b.Cross {
		t.Fatalf("plan %+v record %+v", res[0].Plan, b)
	}
	f, err := os.Open(b.OutPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := archiveConfig(t, f)
	f.Close()
	st, _ := os.Stat(b.OutPath)
	if b.ConfigDigest != digest(cfg) || b.Size != st.Size() || b.RepoTag != "nixify-test:amd64" {
		t.Fatalf("record %+v, want digest %s size %d", b, digest(cfg), st.Size())
	}
	if !strings.HasPrefix(b.FlakeHash, "sha256-") || b.DrvPath == "" || b.Duration <= 0 {
		t.Fatalf("record %+v", b)
	}
	if target, err := os.Readlink(statedir.Dir(state).Result("x86_64")); err != nil || target != b.OutPath {
		t.Fatalf("result link: %q %v", target, err)
	}
	saved, err := record.Store{Dir: state}.Latest("x86_64")
	if err != nil || saved.OutPath != b.OutPath || saved.ConfigDigest != b.ConfigDigest {
		t.Fatalf("saved %+v %v", saved, err)
	}

	// The stream script writes the same archive: same image, read without a file.
	res, err = Run(ctx, n, Options{Flake: ref, Attr: "stream", Archs: []arch.Arch{arch.X86_64}, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	s := res[0].Record
	if s.Kind != record.Stream || s.ConfigDigest != b.ConfigDigest || s.Size != b.Size || s.OutPath == b.OutPath {
		t.Fatalf("stream record %+v, tarball %+v", s, b)
	}
}

func TestNoOpRebuildBuildsNothing(t *testing.T) {
	n := testNix(t)
	ref, _ := testFlake(t)
	state := t.TempDir()
	o := Options{Flake: ref, Attr: "image", Archs: []arch.Arch{arch.X86_64}, StateDir: state}
	first, err := Run(context.Background(), n, o)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	builds := 0
	o.OnEvent = func(e *nix.Event) {
		if e.Action == nix.ActionStart && e.Type == nix.ActBuild {
			mu.Lock()
			builds++
			mu.Unlock()
		}
	}
	again, err := Run(context.Background(), n, o)
	if err != nil {
		t.Fatal(err)
	}
	if builds != 0 || again[0].Record.OutPath != first[0].Record.OutPath || again[0].Record.ConfigDigest != first[0].Record.ConfigDigest {
		t.Fatalf("rebuild: %d builds, %+v vs %+v", builds, again[0].Record, first[0].Record)
	}
}

func TestForeignArchWithoutEmulationUsesCross(t *testing.T) {
	n := testNix(t) // no extra-platforms: this host cannot build aarch64-linux derivations
	ref, _ := testFlake(t)
	var planned []Plan
	res, err := Run(context.Background(), n, Options{Flake: ref, Attr: "image", Archs: []arch.Arch{arch.AArch64}, StateDir: t.TempDir(),
		OnPlan: func(p Plan) { planned = append(planned, p) }})
	if err != nil {
		t.Fatal(err)
	}
	p := res[0].Plan
	if p.Strategy != Cross || p.Attr != "packages.x86_64-linux.image-cross-aarch64" || len(planned) != 1 || !strings.Contains(planned[0].Reason, "cross-compiled") {
		t.Fatalf("plan %+v", p)
	}
	// The live view prints "• aarch64: " and the reason: it fits an 80-column terminal.
	if line := "• aarch64: " + p.Reason; utf8.RuneCountInString(line) > 80 {
		t.Errorf("%d columns: %q", utf8.RuneCountInString(line), line)
	}
	b := res[0].Record
	if !b.Cross || b.Arch != "aarch64" || b.System != "aarch64-linux" || b.RepoTag != "nixify-test:arm64" {
		t.Fatalf("record %+v", b)
	}
}

func TestForeignArchWithoutAnyWayIsOneErrorWithTheFix(t *testing.T) {
	n := testNix(t)
	ref, _ := testFlake(t)
	_, err := Run(context.Background(), n, Options{Flake: ref, Attr: "stream", Archs: []arch.Arch{arch.AArch64}, StateDir: t.TempDir()})
	var nw *NoWayError
	if !errors.As(err, &nw) || !strings.Contains(nw.Error(), "packages.x86_64-linux.stream-cross-aarch64") ||
		!strings.Contains(nw.Hint(), "extra-platforms = aarch64-linux") {
		t.Fatalf("got %v", err)
	}
}

// TestEmulatedAarch64 builds the aarch64 image with a builder compiled for arm64. On this x86_64
// host it can only run through binfmt qemu-aarch64; it records the machine the kernel reported to
// it (uname), which is "aarch64" only under emulation.
func TestEmulatedAarch64(t *testing.T) {
	testpeer.Require(t, "binfmt qemu-aarch64", func() error {
		data, err := os.ReadFile("/proc/sys/fs/binfmt_misc/qemu-aarch64")
		if err != nil || !strings.HasPrefix(string(data), "enabled") {
			return fmt.Errorf("/proc/sys/fs/binfmt_misc/qemu-aarch64 is not enabled (update-binfmts --enable qemu-aarch64)")
		}
		return nil
	})
	n := testNix(t, "--option", "extra-platforms", "aarch64-linux")
	ref, dir := testFlake(t)
	gobin := testpeer.Binary(t, "go")
	cmd := exec.Command(gobin, "build", "-o", filepath.Join(dir, "arm64-builder"), "./testdata/arm64builder")
	cmd.Env = append(os.Environ(), "GOARCH=arm64", "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build arm64 builder: %v\n%s", err, out)
	}
	res, err := Run(context.Background(), n, Options{Flake: ref, Attr: "image", Archs: []arch.Arch{arch.AArch64}, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Plan.Strategy != Emulated || res[0].Record.Cross || res[0].Plan.Attr != "packages.aarch64-linux.image" {
		t.Fatalf("plan %+v", res[0].Plan)
	}
	if line := "• aarch64: " + res[0].Plan.Reason; utf8.RuneCountInString(line) > 80 {
		t.Errorf("%d columns: %q", utf8.RuneCountInString(line), line)
	}
	f, err := os.Open(res[0].Record.OutPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cfg struct {
		Architecture string
		Config       struct{ Labels map[string]string }
	}
	raw := archiveConfig(t, f)
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Architecture != "arm64" || cfg.Config.Labels["machine"] != "aarch64" || res[0].Record.ConfigDigest != digest(raw) {
		t.Fatalf("config %s, record %+v", raw, res[0].Record)
	}
}

func TestBuilderFailureKeepsTheLogTail(t *testing.T) {
	n := testNix(t)
	ref, _ := testFlake(t)
	m := nix.NewMonitor()
	_, err := Run(context.Background(), n, Options{Flake: ref, Attr: "broken", Archs: []arch.Arch{arch.X86_64}, StateDir: t.TempDir(),
		OnEvent: func(e *nix.Event) { m.Handle(e, time.Now()) }})
	var ne *nix.Error
	if !errors.As(err, &ne) || ne.Kind != nix.BuilderFailure || !strings.HasSuffix(ne.Drv, "-broken.drv") {
		t.Fatalf("got %v", err)
	}
	tail := m.Tail(ne.Drv)
	if len(tail) != 30 || tail[0] != "broken line 1" || tail[29] != "broken line 30" {
		t.Fatalf("tail %q", tail)
	}
}

func TestEvaluationErrorsCarryTheirPosition(t *testing.T) {
	n := testNix(t)
	ref, dir := testFlake(t)
	state := t.TempDir()

	_, err := Run(context.Background(), n, Options{Flake: ref, Attr: "nope", Archs: []arch.Arch{arch.X86_64}, StateDir: state})
	var ne *nix.Error
	if !errors.As(err, &ne) || ne.Kind != nix.MissingAttribute || !strings.Contains(err.Error(), "does not provide attribute") {
		t.Fatalf("missing attribute: %v", err)
	}

	// A misspelt attribute: nix's suggestion is kept.
	_, err = Run(context.Background(), n, Options{Flake: ref, Attr: "imag", Archs: []arch.Arch{arch.X86_64}, StateDir: state})
	if !errors.As(err, &ne) || ne.Kind != nix.MissingAttribute || !strings.HasSuffix(err.Error(), "attribute packages.x86_64-linux.imag; Did you mean image?") {
		t.Fatalf("misspelt attribute: %v", err)
	}

	flake := "{\n  outputs = { self }: {\n    packages.x86_64-linux.image = let x = 1 in { a = ; };\n  };\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(flake), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), n, Options{Flake: ref, Attr: "image", Archs: []arch.Arch{arch.X86_64}, StateDir: state})
	if !errors.As(err, &ne) || ne.Kind != nix.EvalFailure || ne.Message.Line != 3 || !strings.Contains(err.Error(), "flake.nix:3:") {
		t.Fatalf("syntax error: %v", err)
	}
}

// TestCancelStopsNixAndItsBuilder interrupts a slow build, as Ctrl-C does, and checks that the
// builder process (which nix runs in a session of its own) is gone.
func TestCancelStopsNixAndItsBuilder(t *testing.T) {
	n := testNix(t)
	ref, dir := testFlake(t)
	pidfile := filepath.Join(t.TempDir(), "pid")
	if err := os.WriteFile(filepath.Join(dir, "pidfile"), []byte(pidfile), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lines := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, n, Options{Flake: ref, Attr: "slow", Archs: []arch.Arch{arch.X86_64}, StateDir: t.TempDir(),
			OnEvent: func(e *nix.Event) {
				if e.Action == nix.ActionResult && e.Type == nix.ResBuildLogLine {
					select {
					case lines <- struct{}{}:
					default:
					}
				}
			}})
		done <- err
	}()
	select {
	case <-lines:
	case err := <-done:
		t.Fatalf("build ended before it was interrupted: %v", err)
	}
	data, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	// nix has exited; its builder is either gone or a zombie about to be reaped by init.
	for range 100 {
		if !alive(pid) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("builder process %d is still running after the build was interrupted", pid)
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses; Z is a zombie: it has stopped.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func TestNeededFollowsTheFlake(t *testing.T) {
	n := testNix(t)
	ref, dir := testFlake(t)
	o := Options{Flake: ref, Attr: "image", Archs: []arch.Arch{arch.X86_64}, StateDir: t.TempDir()}
	ctx := context.Background()
	if need, why, err := Needed(ctx, n, o); err != nil || !need || !strings.Contains(why, "no build") {
		t.Fatalf("before any build: %v %q %v", need, why, err)
	}
	if _, err := Run(ctx, n, o); err != nil {
		t.Fatal(err)
	}
	if need, why, err := Needed(ctx, n, o); err != nil || need {
		t.Fatalf("after the build: %v %q %v", need, why, err)
	}
	setNonce(t, dir)
	if need, why, err := Needed(ctx, n, o); err != nil || !need || !strings.Contains(why, "changed") {
		t.Fatalf("after a change: %v %q %v", need, why, err)
	}
}

func TestGitFlakeRecordsItsRevision(t *testing.T) {
	n := testNix(t)
	git := testpeer.Binary(t, "git")
	_, dir := testFlake(t)
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "test"}} {
		if out, err := exec.Command(git, append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	rev, _ := exec.Command(git, "-C", dir, "rev-parse", "HEAD").Output()
	res, err := Run(context.Background(), n, Options{Flake: "git+file://" + dir, Attr: "image", Archs: []arch.Arch{arch.X86_64}, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := res[0].Record.FlakeRevision; got != strings.TrimSpace(string(rev)) {
		t.Fatalf("revision %q, want %q", got, rev)
	}
}

func TestOutputThatIsNotAnImage(t *testing.T) {
	n := testNix(t)
	ref, _ := testFlake(t)
	_, err := Run(context.Background(), n, Options{Flake: ref, Attr: "notimage", Archs: []arch.Arch{arch.X86_64}, StateDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "is a directory, not an image") {
		t.Fatalf("got %v", err)
	}
}
