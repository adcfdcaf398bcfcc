package build

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/testpeer"
)

// longFlake builds one derivation with a long name whose builder logs long lines for about three
// seconds, then writes a docker-archive: at 80 columns its live line is wider than the terminal.
const longFlake = `{
  outputs = { self }: {
    packages.x86_64-linux.docker-image-static = derivation {
      name = "a-derivation-with-a-rather-long-name-as-nixpkgs-has-them-1.2.3";
      system = "x86_64-linux";
      arch = "amd64";
      nonce = builtins.readFile ./nonce;
      builder = "/bin/sh";
      args = [ "-c" "i=0; while [ $i -lt 15 ]; do echo \"compiling src/some/deeply/nested/directory/file_$i.c with -O2 -Wall -Wextra -fPIC -DNDEBUG\"; i=$((i+1)); /bin/sleep 0.2; done; . ${./build-archive.sh}" ];
    };
  };
}`

// TestLiveViewAt80ColumnsLeavesNoDuplicateLines runs nixify build in a real terminal (tmux, 80
// columns) against real nix. Before the live block clipped its lines, each redraw of a line wider
// than the terminal left a copy in the scrollback (124 after a 14 s build).
func TestLiveViewAt80ColumnsLeavesNoDuplicateLines(t *testing.T) {
	tmux := testpeer.Binary(t, "tmux")
	nixPath := testpeer.Binary(t, "nix")
	gobin := testpeer.Binary(t, "go")
	if !strings.HasPrefix(fmt.Sprint(Archs("", nil)), "[x86_64]") {
		t.Skip("skipping: the test flake is written for an x86_64-linux host")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "nixify")
	build := exec.Command(gobin, "build", "-o", bin, "github.com/nixify/nixify/cmd/nixify")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	flake := filepath.Join(dir, "flake")
	os.Mkdir(flake, 0o755)
	script, err := os.ReadFile(filepath.Join("..", "..", "build", "testdata", "flake", "build-archive.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"flake.nix": longFlake, "build-archive.sh": string(script), "nonce": fmt.Sprint(time.Now().UnixNano())} {
		if err := os.WriteFile(filepath.Join(flake, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nixConfig := "experimental-features = nix-command flakes\nsubstituters =\nsandbox = false\nbuild-users-group ="
	sock := fmt.Sprintf("nixify-test-%d", time.Now().UnixNano())
	cmdline := fmt.Sprintf("%s build --flake path:%s --config /dev/null; echo EXIT $?; sleep 60", bin, flake)
	tm := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-L", sock}, args...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := tm("new-session", "-d", "-x", "80", "-y", "24", "-c", dir,
		"-e", "NIX_CONFIG="+nixConfig, "-e", "PATH="+filepath.Dir(nixPath)+":/usr/bin:/bin", cmdline); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { tm("kill-server") })
	var pane string
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		pane, err = tm("capture-pane", "-p", "-S", "-")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(pane, "EXIT ") {
			break
		}
	}
	if !strings.Contains(pane, "EXIT 0") || !strings.Contains(pane, "✓ built a-derivation-with-a-rather-long-name") {
		t.Fatalf("the build did not finish well:\n%s", pane)
	}
	seen, dups := map[string]int{}, 0
	for _, l := range strings.Split(pane, "\n") {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		if seen[l]++; seen[l] > 1 {
			dups++
		}
	}
	if dups > 0 || strings.Contains(pane, "builds 0/1") {
		t.Fatalf("%d duplicate lines (or a live line left behind) in the scrollback at 80 columns:\n%s", dups, pane)
	}
}
