package build

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/testpeer"
)

// TestImageContractAgainstNixpkgsStandIn evaluates flake.nix and image/ with Debian's nix against
// a stand-in for the parts of nixpkgs they call (testdata/contract/nixpkgs-stand-in.nix): nixpkgs
// itself cannot be fetched here. It proves the image's structure (the arguments given to
// dockerTools.streamLayeredImage and which package set each program comes from), not that
// nixpkgs builds it; the real build runs in CI.
func TestImageContractAgainstNixpkgsStandIn(t *testing.T) {
	inst := testpeer.Binary(t, "nix-instantiate")
	root, _ := filepath.Abs("../..")
	// --read-write-mode: the Go programs' source is filtered into the store and listed.
	out, err := exec.Command(inst, "--eval", "--strict", "--json", "--read-write-mode", "testdata/contract/eval.nix", "--arg", "root", root).Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("evaluate the flake: %s", msg)
	}
	type content struct {
		Name, HostSystem, BuildSystem string
		GoVersion, Version            string
		Musl, Static                  bool
		GoArgs                        *struct {
			Env         map[string]string
			Ldflags     []string
			SubPackages []string
			VendorHash  string
			Src         []string
		}
		Overridden map[string]bool
		Env        map[string]any
		Attrs      *buildAttrs
	}
	type image struct {
		BuildSystem string
		Args        struct {
			Name, Architecture, Created string
			EnableFakechroot            bool
			ExtraCommands               string
			Contents                    []content
			Config                      struct {
				Entrypoint   []string
				ExposedPorts map[string]any
				Env          []string
				Volumes      map[string]any
				Healthcheck  struct{ Test []string }
				Labels       map[string]string
			}
		}
	}
	var got map[string]struct {
		Images map[string]image
		Nixify content
		App    struct{ Type, Program string }
		Shell  []string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ host, attr, targetSystem, arch string }{
		{"x86_64-linux", "docker-image-static", "x86_64-linux", "amd64"},
		{"aarch64-linux", "docker-image-static", "aarch64-linux", "arm64"},
		{"x86_64-linux", "docker-image-static-cross-aarch64", "aarch64-linux", "arm64"},
		{"aarch64-linux", "docker-image-static-cross-x86_64", "x86_64-linux", "amd64"},
	} {
		img, ok := got[tc.host].Images[tc.attr]
		if !ok {
			t.Errorf("packages.%s has no %s", tc.host, tc.attr)
			continue
		}
		a, c := img.Args, img.Args.Config
		where := tc.host + "." + tc.attr
		if img.BuildSystem != tc.host || a.Architecture != tc.arch || a.Name != "nixify-health-check" {
			t.Errorf("%s: assembled on %s for %s, named %s", where, img.BuildSystem, a.Architecture, a.Name)
		}
		if !slices.Equal(c.Entrypoint, []string{"/bin/nixify-init"}) {
			t.Errorf("%s: entrypoint %v", where, c.Entrypoint)
		}
		if !slices.Equal(c.Healthcheck.Test, []string{"CMD", "/bin/nixify-init", "healthcheck"}) {
			t.Errorf("%s: healthcheck %v", where, c.Healthcheck.Test)
		}
		for _, p := range []string{"80", "5432", "6379", "3900", "3901", "3902", "3903"} {
			if _, ok := c.ExposedPorts[p+"/tcp"]; !ok {
				t.Errorf("%s: port %s not exposed", where, p)
			}
		}
		for _, e := range []string{"REDIS_HOST=127.0.0.1", "REDIS_PORT=6379", "PG_HOST=127.0.0.1", "PG_PORT=5432",
			"POSTGRES_USER=postgres", "POSTGRES_DB=postgres", "APP_PORT=80", "NIXIFY_DATA_DIR=/data",
			"NIXIFY_SERVICES=postgres,redis,garage", "GARAGE_BUCKET=nixify"} {
			if !slices.Contains(c.Env, e) {
				t.Errorf("%s: env lacks %s", where, e)
			}
		}
		if _, ok := c.Volumes["/data"]; !ok {
			t.Errorf("%s: /data is not a volume", where)
		}
		for _, d := range []string{"data", "run/postgresql", "tmp"} {
			if !strings.Contains(a.ExtraCommands, d) {
				t.Errorf("%s: %s is not created", where, d)
			}
		}
		// The commit time (1700000000 in the evaluation), never 1970, as the ISO 8601 date
		// stream_layered_image.py parses.
		if a.Created != "2023-11-14T22:13:20Z" || c.Labels["org.opencontainers.image.created"] != a.Created {
			t.Errorf("%s: created %q, label %q", where, a.Created, c.Labels["org.opencontainers.image.created"])
		}
		for _, l := range []string{"source", "revision", "version", "created", "title", "description", "licenses"} {
			if c.Labels["org.opencontainers.image."+l] == "" {
				t.Errorf("%s: label org.opencontainers.image.%s missing", where, l)
			}
		}
		if c.Labels["org.opencontainers.image.revision"] != "0123456789abcdef0123456789abcdef01234567" {
			t.Errorf("%s: revision label %q", where, c.Labels["org.opencontainers.image.revision"])
		}

		byName := map[string]content{}
		for _, p := range a.Contents {
			byName[p.Name] = p
			if p.HostSystem != tc.targetSystem && p.Name != "nixify-etc" { // text files: built by the host
				t.Errorf("%s: %s is built for %s, want %s", where, p.Name, p.HostSystem, tc.targetSystem)
			}
		}
		init := byName["nixify-init"]
		if init.GoArgs == nil || init.GoArgs.Env["CGO_ENABLED"] != "0" || !slices.Equal(init.GoArgs.SubPackages, []string{"cmd/nixify-init"}) ||
			!slices.ContainsFunc(init.GoArgs.Ldflags, func(s string) bool { return strings.Contains(s, "internal/version.Version=") }) ||
			!strings.HasPrefix(init.GoArgs.VendorHash, "sha256-") {
			t.Errorf("%s: nixify-init %+v", where, init.GoArgs)
		}
		// go.mod says go 1.26.0 and buildGoModule builds with GOTOOLCHAIN=local.
		if init.GoVersion != "1.26" {
			t.Errorf("%s: nixify-init built with Go %q, want 1.26", where, init.GoVersion)
		}
		// nixify's Garage client speaks the v2 admin API, which Garage 1 lacks.
		if byName["garage"].Version != "2" {
			t.Errorf("%s: garage major version %q, want 2", where, byName["garage"].Version)
		}
		// Every program is a musl build made by the host's own glibc toolchain: the cross
		// toolchains the public cache holds, never a native musl or static set that compiles
		// LLVM or rustc on a cold build.
		for _, s := range []string{"nixify-init", "postgresql", "redis", "garage", "busybox"} {
			if p := byName[s]; !p.Musl || p.Static || p.BuildSystem != tc.host {
				t.Errorf("%s: %s is from the set musl=%v static=%v built on %s; want the host's musl cross set", where, s, p.Musl, p.Static, p.BuildSystem)
			}
		}
		budgetChoices(t, where, byName["postgresql"].Attrs, byName["redis"].Attrs, byName["redis"].Overridden, byName["garage"].Attrs)
		// Only the Go source goes into nixify-init: a change elsewhere does not rebuild it.
		if !slices.Equal(init.GoArgs.Src, []string{"cmd", "go.mod", "go.sum", "internal", "pkg"}) {
			t.Errorf("%s: nixify-init is built from %v", where, init.GoArgs.Src)
		}
		linked(t, where, "cmd/nixify-init", init.GoArgs.Ldflags)
		etc := byName["nixify-etc"]
		passwd, _ := etc.Env["passwd"].(string)
		for _, u := range []string{"root:x:0:", "postgres:x:", "redis:x:", "garage:x:"} {
			if !strings.Contains(passwd, u) {
				t.Errorf("%s: passwd lacks %s:\n%s", where, u, passwd)
			}
		}
	}
	for _, sys := range []string{"x86_64-linux", "aarch64-linux"} {
		g := got[sys]
		if g.Nixify.GoArgs == nil || g.Nixify.GoVersion != "1.26" || !slices.Equal(g.Nixify.GoArgs.SubPackages, []string{"cmd/nixify"}) || !strings.HasSuffix(g.App.Program, "/bin/nixify") {
			t.Errorf("%s: nixify package %+v app %+v", sys, g.Nixify, g.App)
		} else {
			linked(t, sys, "cmd/nixify", g.Nixify.GoArgs.Ldflags)
		}
		if !slices.Contains(g.Shell, "go") || !slices.Contains(g.Shell, "nix") {
			t.Errorf("%s: dev shell %v", sys, g.Shell)
		}
	}
}

// TestEveryNixFileParses runs nix-instantiate --parse on the repository's Nix files.
func TestEveryNixFileParses(t *testing.T) {
	inst := testpeer.Binary(t, "nix-instantiate")
	files, _ := filepath.Glob("../../image/*.nix")
	more, _ := filepath.Glob("testdata/*/*.nix")
	files = append(append(files, "../../flake.nix"), more...)
	if len(files) < 8 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		if out, err := exec.Command(inst, "--parse", f).CombinedOutput(); err != nil {
			t.Errorf("%s does not parse: %s", f, out)
		}
	}
}
