package build

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/testpeer"
)

// revFlake is a git flake whose image carries self.rev in its "nonce" label, the way
// image/default.nix puts it in org.opencontainers.image.revision. INPUTS is replaced by an input
// (which is what makes nix want to write flake.lock) or by nothing.
const revFlake = `{
  INPUTS
  outputs = { self, ... }: {
    packages.x86_64-linux.image = derivation {
      name = "test-image-amd64.tar";
      system = "x86_64-linux";
      arch = "amd64";
      nonce = self.rev or "dirty";
      builder = "/bin/sh";
      args = [ ./build-archive.sh ];
    };
  };
}
`

// gitFlake commits revFlake (with inputs as given) to a fresh repository and returns a function that
// builds it and checks what the build left: a clean tree, and the commit in the record and, when
// wantLabel, in the image's label.
func gitFlake(t *testing.T, inputs string) (dir string, git func(...string) string, check func(what string, wantLabel bool)) {
	t.Helper()
	n := testNix(t)
	gitBin := testpeer.Binary(t, "git")
	dir, dep := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(dep, "flake.nix"), []byte("{ outputs = { self }: { }; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join("testdata", "flake", "build-archive.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"flake.nix":        []byte(strings.Replace(revFlake, "INPUTS", strings.ReplaceAll(inputs, "DEP", dep), 1)),
		"build-archive.sh": script,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(gitBin, append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q")
	run("add", ".")
	run("commit", "-qm", "flake without a lock file")

	// wantLabel: the build can carry the commit (else record and label both say dirty).
	check = func(what string, wantLabel bool) {
		t.Helper()
		head := run("rev-parse", "HEAD")
		res, err := Run(context.Background(), n, Options{Flake: "git+file://" + dir, Attr: "image", Archs: []arch.Arch{arch.X86_64}, StateDir: t.TempDir()})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if st := run("status", "--porcelain"); st != "" {
			t.Errorf("%s: the build left the checkout dirty:\n%s", what, st)
		}
		b := res[0].Record
		want := head
		if !wantLabel {
			want = "" // dirty, as Nix evaluated it
		}
		if b.FlakeRevision != want {
			t.Errorf("%s: record revision %q, want %q", what, b.FlakeRevision, want)
		}
		f, err := os.Open(b.OutPath)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var cfg struct {
			Config struct{ Labels map[string]string }
		}
		if err := json.Unmarshal(archiveConfig(t, f), &cfg); err != nil {
			t.Fatal(err)
		}
		if got := cfg.Config.Labels["nonce"]; wantLabel && got != head {
			t.Errorf("%s: the image's revision label is %q, want %s", what, got, head)
		}
	}
	return dir, run, check
}

// TestCleanCheckoutStaysCleanAndKeepsItsRevision builds a clean git checkout of a flake that has an
// input and no flake.lock: before nixify passed --no-write-lock-file, nix wrote and git-added
// flake.lock, and the tree turned dirty. Without a lock file Nix then evaluates the flake as dirty
// (self.rev is gone: Nix's rule, which is why flake.nix has no inputs), and the record says so too
// (no revision, so push refuses to tag it with a commit); a committed flake.lock is honoured and
// the record and the image carry the commit.
func TestCleanCheckoutStaysCleanAndKeepsItsRevision(t *testing.T) {
	dir, git, check := gitFlake(t, `inputs.dep.url = "path:DEP";`)
	check("no flake.lock", false)

	n := testNix(t)
	cmd := exec.Command(n.Path, "flake", "lock", "git+file://"+dir)
	cmd.Env = append(os.Environ(), n.Env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nix flake lock: %v %s", err, out)
	}
	git("add", "flake.lock")
	git("commit", "-qm", "lock")
	check("committed flake.lock", true)
}

// TestFlakeWithoutInputsKeepsItsRevision is nixify's own flake's shape: no inputs, no lock file,
// and the image says the commit.
func TestFlakeWithoutInputsKeepsItsRevision(t *testing.T) {
	_, _, check := gitFlake(t, "")
	check("no inputs", true)
}
