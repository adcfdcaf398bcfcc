package build

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/testpeer"
)

// TestVendorHashIsCurrent keeps image/vendor-hash (buildGoModule's vendorHash for nixify's own
// programs) in step with go.mod and with what the code imports: a stale hash only fails in the
// GitHub build of the real image, far from the change that caused it.
func TestVendorHashIsCurrent(t *testing.T) {
	nix := testpeer.Binary(t, "nix")
	gobin := testpeer.Binary(t, "go")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	vendor := filepath.Join(t.TempDir(), "vendor")
	cmd := exec.Command(gobin, "mod", "vendor", "-o", vendor)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go mod vendor (offline; `go mod download` fetches every module it needs): %v\n%s", err, out)
	}
	out, err := exec.Command(nix, "--extra-experimental-features", "nix-command", "hash", "path", vendor).Output()
	if err != nil {
		t.Fatalf("nix hash path: %v", err)
	}
	want, err := os.ReadFile(filepath.Join(root, "image", "vendor-hash"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != strings.TrimSpace(string(want)) {
		t.Fatalf("image/vendor-hash is %s but the vendored modules hash to %s: run image/vendor-hash.sh", strings.TrimSpace(string(want)), got)
	}
}
