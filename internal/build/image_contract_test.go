package build

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/testpeer"
)

// content is a package as the contract evaluation reduces it (testdata/contract/eval.nix): the
// package set it came from and the arguments it was built with.
type content struct {
	Name, HostSystem, BuildSystem string
	GoVersion, Version            string
	Path                          string
	Musl, Static                  bool
	GoArgs                        *struct {
		Env              map[string]string
		Ldflags          []string
		SubPackages      []string
		VendorHash       string
		Src              []string
		BuildPhase       string
		HardeningDisable []string
		DontStrip        bool
	}
	Overridden map[string]bool
	Env        map[string]any
	Attrs      *buildAttrs
}

type contractImage struct {
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

type contract struct {
	Flake struct {
		Attrs       []string
		OutputsArgs map[string]bool
	}
	Systems map[string]struct {
		Attrs      []string
		Images     map[string]contractImage
		Packages   map[string]content
		Components map[string]struct {
			Arch, HostSystem string
			Members          map[string]string
			Budget           struct {
				MaxMiB int
				Levers map[string]string
			}
		}
		Default string
		App     struct{ Type, Program string }
		Shell   []string
	}
}

// components are the image's programs, each a flake output <name>-<arch> on every system.
var components = []string{"busybox", "garage", "nixify-init", "postgresql", "redis"}

// evalContract evaluates the real flake.nix and image/ with Debian's nix against a stand-in for
// the parts of nixpkgs they call (testdata/contract/nixpkgs-stand-in.nix): nixpkgs itself cannot
// be fetched here.
func evalContract(t *testing.T) contract {
	t.Helper()
	inst := testpeer.Binary(t, "nix-instantiate")
	root, _ := filepath.Abs("../..")
	// --read-write-mode: the Go programs' source and image/go-build.sh are copied into the store.
	out, err := exec.Command(inst, "--eval", "--strict", "--json", "--read-write-mode", "testdata/contract/eval.nix", "--arg", "root", root).Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("evaluate the flake: %s", msg)
	}
	var got contract
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestImageContractAgainstNixpkgsStandIn evaluates flake.nix and image/ against the nixpkgs
// stand-in. It proves the image's structure (the arguments given to
// dockerTools.streamLayeredImage, which package set each program comes from, the component
// outputs the workflow builds), not that nixpkgs builds it; the real build runs in CI.
func TestImageContractAgainstNixpkgsStandIn(t *testing.T) {
	got := evalContract(t)

	// A flake with inputs and no committed flake.lock is evaluated as dirty (or gets a lock file
	// written into the checkout), so flake.nix has none; nixpkgs comes from getFlake, which the
	// evaluation only lets through for a full revision of nixpkgs.
	if !slices.Equal(got.Flake.Attrs, []string{"description", "outputs"}) || len(got.Flake.OutputsArgs) != 1 || got.Flake.OutputsArgs["self"] {
		t.Errorf("flake.nix has %v, its outputs take %v; want description and outputs = { self }", got.Flake.Attrs, got.Flake.OutputsArgs)
	}

	// Each component is an output of its own, per image architecture, on both systems; the
	// aggregate of an architecture holds exactly those outputs and a lever for each.
	for _, host := range []string{"x86_64-linux", "aarch64-linux"} {
		sys := got.Systems[host]
		for _, a := range []string{"x86_64", "aarch64"} {
			agg, ok := sys.Components["image-components-"+a]
			if !ok {
				t.Errorf("packages.%s has no image-components-%s: %v", host, a, sys.Attrs)
				continue
			}
			names := slices.Sorted(maps.Keys(agg.Members))
			if !slices.Equal(names, components) || agg.Arch != a || agg.HostSystem != host {
				t.Errorf("packages.%s.image-components-%s: %s on %s holds %v, want %v", host, a, agg.Arch, agg.HostSystem, names, components)
			}
			for _, c := range components {
				p, ok := sys.Packages[c+"-"+a]
				if !ok || p.Path != agg.Members[c] {
					t.Errorf("packages.%s.%s-%s: %q, the aggregate holds %q", host, c, a, p.Path, agg.Members[c])
				}
				if agg.Budget.Levers[c] == "" {
					t.Errorf("packages.%s.image-components-%s: no budget lever for %s", host, a, c)
				}
			}
			if agg.Budget.MaxMiB != 60 || agg.Budget.Levers["shared"] == "" {
				t.Errorf("packages.%s.image-components-%s: budget %+v", host, a, agg.Budget)
			}
			// nixify-init of either architecture is built by the building system's own Go: the
			// host package set (glibc, not musl, not static, built and running on host), never
			// a musl or cross set's Go toolchain.
			init := sys.Packages["nixify-init-"+a]
			if init.HostSystem != host || init.BuildSystem != host || init.Musl || init.Static || init.GoVersion != "1.26" {
				t.Errorf("packages.%s.nixify-init-%s: from the set of %s built on %s, musl=%v static=%v, Go %q; want the host's own Go 1.26",
					host, a, init.HostSystem, init.BuildSystem, init.Musl, init.Static, init.GoVersion)
			}
		}
		if sys.Packages["nixify-init"].Path != sys.Packages["nixify-init-"+strings.Split(host, "-")[0]].Path {
			t.Errorf("packages.%s.nixify-init is not this system's nixify-init-<arch>", host)
		}
	}

	for _, tc := range []struct{ host, attr, targetSystem, targetArch, arch string }{
		{"x86_64-linux", "docker-image-static", "x86_64-linux", "x86_64", "amd64"},
		{"aarch64-linux", "docker-image-static", "aarch64-linux", "aarch64", "arm64"},
		{"x86_64-linux", "docker-image-static-cross-aarch64", "aarch64-linux", "aarch64", "arm64"},
		{"aarch64-linux", "docker-image-static-cross-x86_64", "x86_64-linux", "x86_64", "amd64"},
	} {
		img, ok := got.Systems[tc.host].Images[tc.attr]
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
			// nixify-etc is text, nixify-init comes from the host's Go (which cross-compiles).
			if p.HostSystem != tc.targetSystem && p.Name != "nixify-etc" && p.Name != "nixify-init" {
				t.Errorf("%s: %s is built for %s, want %s", where, p.Name, p.HostSystem, tc.targetSystem)
			}
		}
		// The image is made of the component outputs of its architecture, nothing rebuilt apart.
		for _, c := range components {
			want := got.Systems[tc.host].Packages[c+"-"+tc.targetArch].Path
			if !slices.ContainsFunc(a.Contents, func(p content) bool { return p.Path == want }) {
				t.Errorf("%s: the image does not hold packages.%s.%s-%s (%s)", where, tc.host, c, tc.targetArch, want)
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
		for _, s := range []string{"postgresql", "redis", "garage", "busybox"} {
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
		g := got.Systems[sys]
		nixify := g.Packages["nixify"]
		if nixify.GoArgs == nil || nixify.GoVersion != "1.26" || nixify.HostSystem != sys || !slices.Equal(nixify.GoArgs.SubPackages, []string{"cmd/nixify"}) ||
			!strings.HasSuffix(g.App.Program, "/bin/nixify") || g.Default != nixify.Path {
			t.Errorf("%s: nixify package %+v app %+v default %s", sys, nixify, g.App, g.Default)
		} else {
			linked(t, sys, "cmd/nixify", nixify.GoArgs.Ldflags)
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

// TestNixifyInitFromTheHostGoIsStatic runs the build phase of packages.<host>.nixify-init-<arch>,
// as the flake evaluates it, for both architectures and from both hosts: the host's Go
// cross-compiles, and the result must be a static, stripped executable of the right machine
// (debug/elf: no interpreter, no dynamic section, no symbol table, no DWARF). GOFLAGS carries the
// -buildmode=pie that buildGoModule's configure phase adds when the pie hardening is on.
func TestNixifyInitFromTheHostGoIsStatic(t *testing.T) {
	got := evalContract(t)
	goBin := testpeer.Binary(t, "go")
	bash := testpeer.Binary(t, "bash")
	root, _ := filepath.Abs("../..")
	machine := map[string]elf.Machine{"x86_64": elf.EM_X86_64, "aarch64": elf.EM_AARCH64}
	for _, host := range []string{"x86_64-linux", "aarch64-linux"} {
		for _, a := range []string{"x86_64", "aarch64"} {
			where := "packages." + host + ".nixify-init-" + a
			init := got.Systems[host].Packages["nixify-init-"+a]
			if init.GoArgs == nil {
				t.Errorf("%s is not a Go module", where)
				continue
			}
			g := init.GoArgs
			if g.Env["CGO_ENABLED"] != "0" || !slices.Contains(g.HardeningDisable, "pie") || !g.DontStrip ||
				!slices.Contains(g.Ldflags, "-s") || !slices.Contains(g.Ldflags, "-w") {
				t.Errorf("%s: env %v, hardeningDisable %v, dontStrip %v, ldflags %v", where, g.Env, g.HardeningDisable, g.DontStrip, g.Ldflags)
			}
			gopath := t.TempDir()
			cmd := exec.Command(bash, "-euc", "runHook() { :; }\n"+g.BuildPhase)
			cmd.Dir = root
			cmd.Env = append(os.Environ(),
				"PATH="+filepath.Dir(goBin)+":/usr/bin:/bin",
				"GOPATH="+gopath,
				// buildGoModule's ldflags, space-joined as the derivation's environment has them.
				"ldflags="+strings.Join(append(slices.Clone(g.Ldflags), "-buildid="), " "),
				"GOFLAGS=-buildmode=pie -trimpath -buildvcs=false",
			)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: the build phase failed: %v\n%s", where, err, out)
				continue
			}
			bin := filepath.Join(gopath, "bin", "nixify-init")
			if err := staticStripped(bin, machine[a]); err != nil {
				t.Errorf("%s: %v", where, err)
			}
			// The ldflags reached the linker: the evaluation's commit is stamped in.
			if data, err := os.ReadFile(bin); err != nil || !bytes.Contains(data, []byte("0123456789abcdef0123456789abcdef01234567")) {
				t.Errorf("%s: the commit is not stamped into the executable (%v)", where, err)
			}
		}
	}
}

// TestStaticStrippedRefusesADynamicExecutable: the check above can fail. A Go PIE (what the
// pie hardening would make), an unstripped build and the wrong machine are each refused.
func TestStaticStrippedRefusesADynamicExecutable(t *testing.T) {
	goBin := testpeer.Binary(t, "go")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(\"hello\") }\n"), 0o644)
	build := func(out string, args ...string) string {
		t.Helper()
		cmd := exec.Command(goBin, append(append([]string{"build", "-o", out}, args...), ".")...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=-buildvcs=false")
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %v: %v %s", args, err, o)
		}
		return filepath.Join(dir, out)
	}
	if err := staticStripped(build("static", "-ldflags=-s -w"), elf.EM_X86_64); err != nil {
		t.Fatalf("a static stripped build is refused: %v", err)
	}
	for name, tc := range map[string]struct {
		path    string
		machine elf.Machine
		want    string
	}{
		"pie":        {build("pie", "-buildmode=pie", "-ldflags=-s -w"), elf.EM_X86_64, "interpreter"},
		"unstripped": {build("unstripped"), elf.EM_X86_64, "symbol table"},
		"machine":    {filepath.Join(dir, "static"), elf.EM_AARCH64, "EM_X86_64"},
	} {
		if err := staticStripped(tc.path, tc.machine); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, tc.want)
		}
	}
}

// staticStripped says why the executable at path is not a static, stripped executable for machine.
func staticStripped(path string, machine elf.Machine) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if f.Machine != machine {
		return fmt.Errorf("%s is built for %v, want %v", path, f.Machine, machine)
	}
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			interp, _ := io.ReadAll(p.Open())
			return fmt.Errorf("%s asks for the interpreter %s: it is dynamically linked", path, strings.TrimRight(string(interp), "\x00"))
		case elf.PT_DYNAMIC:
			return fmt.Errorf("%s has a dynamic segment", path)
		}
	}
	if f.Type != elf.ET_EXEC {
		return fmt.Errorf("%s is of type %v, want a plain executable (ET_EXEC)", path, f.Type)
	}
	if f.Section(".dynamic") != nil {
		return fmt.Errorf("%s has a .dynamic section", path)
	}
	if f.Section(".symtab") != nil {
		return fmt.Errorf("%s keeps its symbol table (.symtab): it is not stripped", path)
	}
	if f.Section(".debug_info") != nil || f.Section(".zdebug_info") != nil {
		return fmt.Errorf("%s keeps its DWARF", path)
	}
	return nil
}
