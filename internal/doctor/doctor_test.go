package doctor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/nix"
	"github.com/nixify/nixify/internal/testpeer"
)

func envWith(over map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := over[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
}

func find(t *testing.T, r Report, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, r.Checks)
	return Check{}
}

func requireNix(t *testing.T) {
	testpeer.Require(t, "nix", func() error { _, err := exec.LookPath("nix"); return err })
}

func requireEngine(t *testing.T) {
	testpeer.Require(t, "Docker engine", func() error { return exec.Command("docker", "info").Run() })
}

// TestThisMachine runs every check against the real nix (Debian's nix-bin, 2.8) and engine.
func TestThisMachine(t *testing.T) {
	requireNix(t)
	requireEngine(t)
	r := Run(context.Background(), Options{Getenv: envWith(nil), StateDir: t.TempDir()})
	nix := find(t, r, "nix")
	out, _ := exec.Command("nix", "--version").Output()
	maj, min, text, ok := ParseNixVersion(string(out))
	if !ok {
		t.Fatalf("cannot parse %q", out)
	}
	if maj == 2 && min < 18 {
		if nix.Status != Warn || !strings.Contains(nix.Detail, "Nix "+text) || !strings.Contains(nix.Detail, "2.18 or newer") {
			t.Fatalf("old nix should warn about 2.18: %+v", nix)
		}
	} else if nix.Status != OK {
		t.Fatalf("nix: %+v", nix)
	}
	if c := find(t, r, "docker engine"); c.Status != OK || !strings.Contains(c.Detail, "API 1.") {
		t.Fatalf("engine: %+v", c)
	}
	if c := find(t, r, "build x86_64-linux"); c.Status != OK || !strings.Contains(c.Detail, "native") {
		t.Fatalf("x86_64: %+v", c)
	}
	if c := find(t, r, "build aarch64-linux"); c.Status == Fail || c.Detail == "" {
		t.Fatalf("aarch64 must be answered either way: %+v", c)
	}
	if c := find(t, r, "registry credentials"); c.Status != Skip {
		t.Fatalf("no repo configured: %+v", c)
	}
	if !r.OK {
		t.Fatalf("this machine can build and run: %+v", r)
	}
	// The bug: the nix row said "warn" while its JSON said blocker:true. A row is a blocker only
	// when it fails.
	for _, c := range r.Checks {
		if c.Blocker && c.Status != Fail {
			t.Errorf("%s is %s but a blocker: %+v", c.Name, c.Status, c)
		}
	}
}

func TestNixMissingFromPath(t *testing.T) {
	requireEngine(t)
	r := Run(context.Background(), Options{Getenv: envWith(map[string]string{"PATH": t.TempDir()}), StateDir: t.TempDir()})
	c := find(t, r, "nix")
	if c.Status != Fail || !c.Blocker || c.Detail != "nix is not on PATH" || !strings.Contains(c.Fix, "apt-get install nix-bin") {
		t.Fatalf("nix missing: %+v", c)
	}
	if find(t, r, "build aarch64-linux").Status != Skip {
		t.Fatal("system checks should be skipped without nix")
	}
	if r.OK {
		t.Fatal("without nix the main job cannot run")
	}
}

func TestDockerHostPointingAtNothing(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "nothing.sock")
	r := Run(context.Background(), Options{Getenv: envWith(map[string]string{"DOCKER_HOST": "unix://" + sock}), StateDir: t.TempDir()})
	c := find(t, r, "docker engine")
	if c.Status != Fail || !strings.Contains(c.Detail, sock) || !strings.Contains(c.Detail, "from DOCKER_HOST") ||
		!strings.Contains(c.Fix, "DOCKER_HOST") {
		t.Fatalf("engine: %+v", c)
	}
	if r.OK {
		t.Fatal("without an engine the main job cannot run")
	}
}

func TestDockerContextPointingElsewhere(t *testing.T) {
	// A closed loopback port: the context's engine is not there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	dir := t.TempDir()
	sum := sha256.Sum256([]byte("elsewhere"))
	meta := filepath.Join(dir, "contexts", "meta", hex.EncodeToString(sum[:]))
	os.MkdirAll(meta, 0o755)
	os.WriteFile(filepath.Join(meta, "meta.json"), []byte(`{"Name":"elsewhere","Endpoints":{"docker":{"Host":"tcp://`+addr+`"}}}`), 0o644)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"currentContext":"elsewhere"}`), 0o644)

	r := Run(context.Background(), Options{Getenv: envWith(map[string]string{"DOCKER_HOST": "", "DOCKER_CONTEXT": "", "DOCKER_CONFIG": dir}), StateDir: t.TempDir()})
	c := find(t, r, "docker engine")
	if c.Status != Fail || !strings.Contains(c.Detail, "tcp://"+addr) || !strings.Contains(c.Detail, "context elsewhere") ||
		!strings.Contains(c.Fix, "context elsewhere") {
		t.Fatalf("engine: %+v", c)
	}
}

func TestSystemCheck(t *testing.T) {
	proc := t.TempDir()
	os.MkdirAll(filepath.Join(proc, "sys", "fs", "binfmt_misc"), 0o755)
	host := nix.Settings{System: "x86_64-linux", ExtraPlatforms: []string{"aarch64-linux"}}

	if c := systemCheck(arch.AArch64, host, proc); c.Status != Warn || !strings.Contains(c.Detail, "binfmt qemu-aarch64 is not enabled") || !strings.Contains(c.Fix, "update-binfmts --enable qemu-aarch64") {
		t.Fatalf("extra-platforms without binfmt: %+v", c)
	}
	os.WriteFile(filepath.Join(proc, "sys", "fs", "binfmt_misc", "qemu-aarch64"), []byte("enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n"), 0o644)
	if c := systemCheck(arch.AArch64, host, proc); c.Status != OK || !strings.Contains(c.Detail, "emulated") {
		t.Fatalf("extra-platforms with binfmt: %+v", c)
	}
	remote := nix.Settings{System: "x86_64-linux", Builders: "ssh://arm64.example aarch64-linux - 4; ssh://x x86_64-linux"}
	if c := systemCheck(arch.AArch64, remote, t.TempDir()); c.Status != OK || !strings.Contains(c.Detail, "ssh://arm64.example") {
		t.Fatalf("remote builder: %+v", c)
	}
	if c := systemCheck(arch.X86_64, nix.Settings{System: "aarch64-linux"}, t.TempDir()); c.Status != Warn || !strings.Contains(c.Detail, "cross-compiled") {
		t.Fatalf("x86_64 on aarch64 host: %+v", c)
	}
}

func TestParseNixVersion(t *testing.T) {
	for in, want := range map[string]string{"nix (Nix) 2.8.0\n": "2.8.0", "nix (Nix) 2.24.10": "2.24.10", "nix (Lix, like Nix) 2.91.1": "2.91.1"} {
		if _, _, got, ok := ParseNixVersion(in); !ok || got != want {
			t.Errorf("%q: got %q", in, got)
		}
	}
	if _, _, _, ok := ParseNixVersion("garbage"); ok {
		t.Error("garbage parsed")
	}
}

func TestBuildUsersGroupMissing(t *testing.T) {
	testpeer.Root(t, "the check applies to root only")
	noDaemon := filepath.Join(t.TempDir(), "socket")
	c, bad := buildUsersCheck(nix.Settings{BuildUsersGroup: "nixify-no-such-group"}, noDaemon)
	if !bad || c.Status != Fail || !c.Blocker || !strings.Contains(c.Fix, "build-users-group =") {
		t.Fatalf("missing group: %+v", c)
	}
	if _, bad := buildUsersCheck(nix.Settings{BuildUsersGroup: "root"}, noDaemon); bad {
		t.Fatal("an existing group is fine")
	}
	if _, bad := buildUsersCheck(nix.Settings{}, noDaemon); bad {
		t.Fatal("no build users is fine")
	}
	// With a daemon, builds run as the daemon's users: the missing group is its business.
	daemon := filepath.Join(t.TempDir(), "socket")
	if l, err := net.Listen("unix", daemon); err != nil {
		t.Fatal(err)
	} else {
		defer l.Close()
	}
	if _, bad := buildUsersCheck(nix.Settings{BuildUsersGroup: "nixify-no-such-group"}, daemon); bad {
		t.Fatal("a daemon's build users were checked")
	}
}

// TestOldNixWithANixpkgsFlakeQualifiesTheVerdict: Nix older than 2.18 builds local flakes without
// nixpkgs, so it is only a warning, until the configured flake has a nixpkgs input.
func TestOldNixWithANixpkgsFlakeQualifiesTheVerdict(t *testing.T) {
	requireNix(t)
	out, _ := exec.Command("nix", "--version").Output()
	if maj, min, _, _ := ParseNixVersion(string(out)); maj > 2 || maj == 2 && min >= 18 {
		// The peer here is a Nix too old for nixpkgs (Debian's nix-bin, which .ci/run installs).
		testpeer.Missing(t, "Nix older than "+MinNixpkgsNix, "this nix evaluates current nixpkgs")
	}
	with, without, locked := t.TempDir(), t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(with, "flake.nix"), []byte(`{ inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05"; outputs = { self, nixpkgs }: { }; }`), 0o644)
	os.WriteFile(filepath.Join(without, "flake.nix"), []byte(`{ outputs = { self }: { }; }`), 0o644)
	os.WriteFile(filepath.Join(locked, "flake.nix"), []byte(`{ inputs.pkgs.url = "github:someone/pkgs"; outputs = { self, pkgs }: { }; }`), 0o644)
	os.WriteFile(filepath.Join(locked, "flake.lock"), []byte(`{"nodes":{"pkgs":{"original":{"owner":"NixOS","repo":"nixpkgs","type":"github"}},"root":{"inputs":{"pkgs":"pkgs"}}},"root":"root","version":7}`), 0o644)
	for _, c := range []struct {
		dir, flake string
		blocked    bool
	}{{with, ".", true}, {with, "path:" + with, true}, {locked, ".", true}, {without, ".", false}, {with, "github:owner/repo", false}} {
		r := Run(context.Background(), Options{Getenv: envWith(map[string]string{"DOCKER_HOST": "unix:///nonexistent.sock"}), StateDir: t.TempDir(), Flake: c.flake, WorkDir: c.dir})
		var flake *Check
		for i := range r.Checks {
			if strings.HasPrefix(r.Checks[i].Name, "flake ") {
				flake = &r.Checks[i]
			}
		}
		if c.blocked != (flake != nil) {
			t.Errorf("%s in %s: flake check %+v, want blocked %v", c.flake, c.dir, flake, c.blocked)
			continue
		}
		if c.blocked && (flake.Status != Fail || !flake.Blocker || !strings.Contains(flake.Detail, "nixpkgs") || r.OK) {
			t.Errorf("%s: %+v, verdict %q", c.flake, flake, r.Verdict)
		}
	}
	// With the engine there too, the flake is the one blocker left and the verdict says so.
	requireEngine(t)
	r := Run(context.Background(), Options{Getenv: envWith(nil), StateDir: t.TempDir(), Flake: ".", WorkDir: with})
	if r.OK || r.Verdict != "nixify can run images here, but cannot build the configured flake . until the failure above is fixed." {
		t.Fatalf("ok %v, verdict %q", r.OK, r.Verdict)
	}
}

// TestFlakesFromNIX_CONFIG: Nix 2.8 writes experimental-features as numbers in JSON; flakes
// enabled through NIX_CONFIG looked disabled.
func TestFlakesFromNIX_CONFIG(t *testing.T) {
	requireNix(t)
	t.Setenv("NIX_CONFIG", "experimental-features = nix-command flakes")
	s, err := ReadNixSettings(context.Background(), "nix")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s.ExperimentalFeatures, "flakes") || !slices.Contains(s.ExperimentalFeatures, "nix-command") {
		t.Fatalf("experimental features %q", s.ExperimentalFeatures)
	}
}
