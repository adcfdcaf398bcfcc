package testimage

import (
	"os"
	"path/filepath"
	"sort"
)

// PostgresBin is where Debian keeps PostgreSQL 15's programs (not on PATH).
const PostgresBin = "/usr/lib/postgresql/15/bin"

// Env is the environment both test images set: PATH with PostgreSQL's directory, UTC, and the
// services the image really holds (no Garage binary exists on these machines).
var Env = []string{
	"PATH=/bin:/usr/bin:" + PostgresBin,
	"TZ=UTC",
	"NIXIFY_SERVICES=postgres,redis",
}

// NotADirectory is a file in the full test image (see Services).
const NotADirectory = "/srv/not-a-directory"

// Services is the full test image: nixify-init as PID 1 with Debian's PostgreSQL and Redis, psql
// and redis-cli for the tests to write data, and busybox as /bin/sh (initdb needs a shell).
func Services(initBinary, tag string) (Spec, error) {
	bins := []string{
		filepath.Join(PostgresBin, "postgres"), filepath.Join(PostgresBin, "initdb"),
		filepath.Join(PostgresBin, "psql"), "/usr/bin/redis-server", "/usr/bin/redis-cli",
	}
	// PostgreSQL loads these with dlopen: PL/pgSQL (initdb creates it), text search stemmers.
	for _, so := range []string{"plpgsql.so", "dict_snowball.so"} {
		bins = append(bins, filepath.Join("/usr/lib/postgresql/15/lib", so))
	}
	entries, err := WithLibraries(bins...)
	if err != nil {
		return Spec{}, err
	}
	for _, dir := range []string{"/usr/share/postgresql/15", "/usr/share/zoneinfo"} {
		tree, err := Tree(dir)
		if err != nil {
			return Spec{}, err
		}
		entries = append(entries, tree...)
	}
	entries = append(entries, Users()...)
	entries = append(entries,
		Entry{Path: "/bin/nixify-init", From: initBinary},
		Entry{Path: "/bin/busybox", From: "/bin/busybox"},
		// A file where a directory is expected, outside the system directories the init refuses:
		// the e2e tests' data root that passes every check and stops the init at once.
		Entry{Path: NotADirectory, Data: []byte("a file, not a directory\n")},
	)
	for _, applet := range []string{"sh", "kill", "pidof", "ps", "cat", "ls", "sleep", "rm", "mkdir"} {
		entries = append(entries, Entry{Path: "/bin/" + applet, Link: "busybox"})
	}
	// Debian's binaries look for their share files relative to their own directory too; the
	// absolute paths they were built with are the ones copied above.
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	return Spec{
		Tag: tag, Arch: "amd64", Entries: entries, Env: Env,
		Entrypoint:  []string{"/bin/nixify-init"},
		Healthcheck: []string{"/bin/nixify-init", "healthcheck"},
		Labels:      map[string]string{"org.opencontainers.image.title": "nixify e2e test image"},
	}, nil
}

// Static is the static-only image: nixify-init and a static stand-in for redis-server, for
// architectures whose Debian binaries are not on the machine (arm64 under qemu).
func Static(initBinary, redisStandIn, goarch, tag string) Spec {
	entries := append(Users(),
		Entry{Path: "/bin/nixify-init", From: initBinary},
		Entry{Path: "/usr/bin/redis-server", From: redisStandIn, Mode: 0o755},
	)
	return Spec{
		Tag: tag, Arch: goarch, Entries: entries,
		Env:         []string{"PATH=/bin:/usr/bin", "TZ=UTC", "NIXIFY_SERVICES=redis"},
		Entrypoint:  []string{"/bin/nixify-init"},
		Healthcheck: []string{"/bin/nixify-init", "healthcheck"},
	}
}

// Exists reports whether path exists, for callers that skip when a binary is missing.
func Exists(path string) bool { _, err := os.Stat(path); return err == nil }

// Sleeper is a one-program image whose containers run until removed: busybox (also as /bin/sh) and
// `sleep 600` as the entrypoint, for tests of the engine's container calls. The tag is also a
// label, so that images of different tags have different IDs: tests of several packages run at
// once, and one test's cleanup (or its "image in use" check) must not meet another's image.
func Sleeper(tag string) Spec {
	return Spec{Tag: tag, Arch: "amd64",
		Entries:    []Entry{{Path: "/bin/busybox", From: "/bin/busybox"}, {Path: "/bin/sh", Link: "busybox"}},
		Env:        []string{"PATH=/bin"},
		Entrypoint: []string{"/bin/busybox", "sleep", "600"},
		Labels:     map[string]string{"nixify.test.tag": tag}}
}
