// Package testpeer finds and starts the real programs that nixify's tests talk to (nix, the Docker
// engine, PostgreSQL, Redis, a registry, an S3 server). Under CI=true a missing peer fails the test,
// because .ci/run installs every one of them; on a developer's machine it skips with the reason.
package testpeer

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
)

// InCI reports whether the tests run under CI, where every peer must be present.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing ends the test because a peer is not available: a failure under CI, a skip elsewhere.
func Missing(t testing.TB, peer, why string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s is required under CI=true but is not available: %s (.ci/run installs it)", peer, why)
	}
	t.Skipf("skipping: %s is not available here: %s (set CI=true to make this a failure)", peer, why)
}

// Require ends the test unless check succeeds; check says why the peer is missing.
func Require(t testing.TB, peer string, check func() error) {
	t.Helper()
	if err := check(); err != nil {
		Missing(t, peer, err.Error())
	}
}

// Root ends the test unless it runs as root: needing root (to switch users, to give files away) is
// needing a peer like any other, so under CI=true, which runs as root, its absence fails the test.
func Root(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "root", why)
	}
}

// Binary returns the absolute path of a program, looking on PATH and then in Debian's PostgreSQL
// directory (/usr/lib/postgresql/N/bin, newest first), which is not on PATH.
func Binary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	Missing(t, name, "not found on PATH or in /usr/lib/postgresql/*/bin")
	return ""
}

// PostgresBinDir returns the directory holding Debian's initdb and postgres.
func PostgresBinDir(t testing.TB) string {
	t.Helper()
	return filepath.Dir(Binary(t, "initdb"))
}

// Browser returns a headless-capable Chromium: Debian's chromium, or Chrome where a CI image carries
// it instead (GitHub's Ubuntu runners).
func Browser(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Missing(t, "chromium", "no chromium, chromium-browser or google-chrome on PATH")
	return ""
}
