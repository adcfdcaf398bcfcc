package push

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/build"
	"github.com/nixify/nixify/internal/build/buildtest"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/testpeer"
)

// TestPushTagsTheCommitNixBuilt builds a git flake with the real nix at commit A, commits B, and
// pushes without rebuilding: refused (HEAD moved since the build), and with --force tagged and
// annotated with A. A build of a tree with uncommitted changes is refused too.
func TestPushTagsTheCommitNixBuilt(t *testing.T) {
	n := buildtest.Nix(t)
	git := testpeer.Binary(t, "git")
	_, dir := buildtest.Flake(t)
	gitRun := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(git, append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	gitRun("init", "-q", "-b", "main")
	gitRun("add", "-A")
	gitRun("commit", "-q", "-m", "A")
	a := gitRun("rev-parse", "HEAD")

	state := t.TempDir()
	ctx := context.Background()
	nixBuild := func() {
		t.Helper()
		if _, err := build.Run(ctx, n, build.Options{Flake: dir, Attr: buildtest.Tarball, Archs: []arch.Arch{arch.X86_64}, StateDir: state}); err != nil {
			t.Fatal(err)
		}
	}
	nixBuild()
	gitRun("commit", "-q", "--allow-empty", "-m", "B")
	b := gitRun("rev-parse", "HEAD")

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/o/n"
	cfg := func() (*config.Loaded, error) {
		return &config.Loaded{Config: config.Config{StateDir: state, Repo: repo, Architectures: []arch.Arch{arch.X86_64}}}, nil
	}
	local := func(o *Options) { o.Getenv, o.WorkDir = func(string) string { return "" }, dir }

	_, _, err := run(t, opt(cfg, dir, local))
	if err == nil || cli.Code(err) != cli.ExitFailure || !strings.Contains(err.Error(), a[:7]) || !strings.Contains(err.Error(), b[:7]) {
		t.Fatalf("push after HEAD moved: %v", err)
	}
	if _, _, err := run(t, opt(cfg, dir, func(o *Options) { local(o); o.Force = true })); err != nil {
		t.Fatal(err)
	}
	// Pushed again, nothing changes: the image, its index and its attached documents are there.
	_, again, err := run(t, opt(cfg, dir, func(o *Options) { local(o); o.Force = true }))
	if err != nil || !strings.HasPrefix(lastLine(again), "unchanged: ") {
		t.Errorf("re-push: %v\n%s", err, again)
	}
	tags, _ := remote.List(mustRepo(t, repo))
	if !slices.Contains(tags, "main-"+a[:7]) || slices.Contains(tags, "main-"+b[:7]) {
		t.Errorf("tags %q: want main-%s and not main-%s", tags, a[:7], b[:7])
	}
	d, err := remote.Get(mustRepo(t, repo).Tag("latest"))
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := d.ImageIndex()
	m, _ := idx.IndexManifest()
	if got := m.Annotations["org.opencontainers.image.revision"]; got != a {
		t.Errorf("revision annotation %q, want the built commit %s", got, a)
	}

	// Uncommitted changes: nix records no revision, and push refuses to name one.
	if err := os.WriteFile(filepath.Join(dir, "nonce"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	nixBuild()
	_, _, err = run(t, opt(cfg, dir, local))
	if err == nil || !strings.Contains(err.Error(), "uncommitted changes") || !strings.Contains(cli.Hint(err), "--force") {
		t.Fatalf("push of a dirty build: %v", err)
	}
}

// TestPushComparesWithTheFlakesCheckout: build --flake ELSEWHERE, then push from another git
// checkout. The push compares the build with the flake's own checkout, not with the current
// directory's HEAD: it tags the flake's commit, and once the flake's checkout moves on it refuses
// naming the flake's commits, never the current directory's.
func TestPushComparesWithTheFlakesCheckout(t *testing.T) {
	n := buildtest.Nix(t)
	git := testpeer.Binary(t, "git")
	gitIn := func(dir string, args ...string) string {
		t.Helper()
		out, err := exec.Command(git, append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	_, flake := buildtest.Flake(t)
	gitIn(flake, "init", "-q", "-b", "main")
	gitIn(flake, "add", "-A")
	gitIn(flake, "commit", "-q", "-m", "A")
	a := gitIn(flake, "rev-parse", "HEAD")
	here := t.TempDir() // where push runs: another project's checkout
	gitIn(here, "init", "-q", "-b", "main")
	gitIn(here, "commit", "-q", "--allow-empty", "-m", "C")
	c := gitIn(here, "rev-parse", "HEAD")

	state := t.TempDir()
	if _, err := build.Run(context.Background(), n, build.Options{Flake: flake, Attr: buildtest.Tarball, Archs: []arch.Arch{arch.X86_64}, StateDir: state}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/o/n"
	cfg := func() (*config.Loaded, error) {
		return &config.Loaded{Config: config.Config{StateDir: state, Repo: repo, Architectures: []arch.Arch{arch.X86_64}}}, nil
	}
	local := func(o *Options) { o.Getenv, o.WorkDir = func(string) string { return "" }, here }

	if _, _, err := run(t, opt(cfg, here, local)); err != nil {
		t.Fatalf("push of a build of %s from %s: %v", flake, here, err)
	}
	tags, _ := remote.List(mustRepo(t, repo))
	if !slices.Contains(tags, "main-"+a[:7]) || slices.Contains(tags, "main-"+c[:7]) {
		t.Errorf("tags %q: want main-%s (the flake's commit), not main-%s", tags, a[:7], c[:7])
	}

	gitIn(flake, "commit", "-q", "--allow-empty", "-m", "B")
	b := gitIn(flake, "rev-parse", "HEAD")
	_, _, err := run(t, opt(cfg, here, local))
	if err == nil || !strings.Contains(err.Error(), b[:7]) || !strings.Contains(err.Error(), a[:7]) || strings.Contains(err.Error(), c[:7]) {
		t.Fatalf("push after the flake's HEAD moved: %v (want %s and %s named, not %s)", err, b[:7], a[:7], c[:7])
	}
}
