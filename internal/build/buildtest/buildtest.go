// Package buildtest lets tests outside package build run Debian's real nix on a flake of real,
// Nix-shaped images (flake/): a closure of two store paths, a docker-archive with one layer per
// store path and history naming it, and a stream script that writes that archive. It builds
// offline in about a second with the host's /bin/sh.
package buildtest

import (
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/nix"
	"github.com/nixify/nixify/internal/testpeer"
)

// Config is the Nix configuration of the tests: flakes on, no binary cache (offline), no sandbox
// and no build users (single-user root, as Debian's nix-bin runs here).
const Config = "experimental-features = nix-command flakes\nsubstituters =\nsandbox = false\nbuild-users-group ="

// Attributes of the flake, under packages.x86_64-linux.
const (
	Tarball = "layered"        // the docker-archive
	Stream  = "layered-stream" // the script writing it to stdout
	Tool    = "tool"           // the store path whose closure the image holds

	// An image whose closure is shaped like nixpkgs' packages (pname, version, a fixed-output
	// source, meta, a Go binary when the test writes ./gobin), for the SBOM tests. Writing
	// ./version changes the version of its library, libfoo.
	App       = "app-layered"
	AppStream = "app-stream"
)

//go:embed flake
var flake embed.FS

// Nix returns the nix binary configured for tests, or ends the test when there is none (a failure
// under CI=true). The flake is written for x86_64-linux hosts.
func Nix(t testing.TB, args ...string) *nix.Nix {
	t.Helper()
	p := testpeer.Binary(t, "nix")
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skipf("skipping: the test flake is written for an x86_64-linux host, this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	return &nix.Nix{Path: p, Args: args, Env: []string{"NIX_CONFIG=" + Config}}
}

// GoBinary compiles gobin (a Go program with module dependencies) into the flake directory as
// ./gobin, which the App image carries as bin/nixify-init.
func GoBinary(t testing.TB, dir string) {
	t.Helper()
	gobin := testpeer.Binary(t, "go")
	cmd := exec.Command(gobin, "build", "-o", filepath.Join(dir, "gobin"), "github.com/nixify/nixify/internal/build/buildtest/gobin")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build gobin: %v: %s", err, out)
	}
}

// Flake writes the flake to a fresh directory with a nonce of its own, so that every test builds
// store paths of its own, and returns its flake reference and directory.
func Flake(t testing.TB) (ref, dir string) {
	t.Helper()
	dir = t.TempDir()
	entries, err := flake.ReadDir("flake")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := flake.ReadFile("flake/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nonce := fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())
	if err := os.WriteFile(filepath.Join(dir, "nonce"), []byte(nonce), 0o644); err != nil {
		t.Fatal(err)
	}
	return "path:" + dir, dir
}
