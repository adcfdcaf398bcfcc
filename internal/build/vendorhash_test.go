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
	// go mod vendor needs every module that provides a package for any platform, also those a
	// Linux build never downloads (cobra's mousetrap, docker's go-winio): it fetches them through
	// the configured GOPROXY, as the build did, so that the README's test command passes on a
	// machine whose module cache holds only what `go test` needed. The user's GOFLAGS stay
	// (-modcacherw, for one); -mod=mod keeps a vendor directory or -mod=vendor out of the way.
	cmd := exec.Command(gobin, "mod", "vendor", "-o", vendor)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go mod vendor (fetches the modules a Linux build skips, through GOPROXY): %v\n%s", err, out)
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
