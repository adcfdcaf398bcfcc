package build

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/testpeer"
	"gopkg.in/yaml.v3"
)

// buildAttrs are the attributes the stand-in saw given to mkDerivation, or after overrideAttrs.
type buildAttrs struct {
	ConfigureFlags              []string
	BuildInputs                 []string
	DisallowedRequisites        []string
	StripAllList                []string
	MakeFlags                   []string
	PostInstall                 string
	DoCheck                     *bool
	DoInstallCheck              *bool
	CargoBuildFeatures          []string
	CargoBuildNoDefaultFeatures bool
}

// budgetChoices asserts the choices that keep the image inside 60 MiB and its cold build inside
// 45 minutes (BENCHMARKS.md, "The image's closure"), so that an edit cannot quietly undo one.
func budgetChoices(t *testing.T, where string, pg, redis *buildAttrs, redisArgs map[string]bool, garage *buildAttrs) {
	t.Helper()
	off := func(what string, a *buildAttrs) {
		if a == nil || a.DoCheck == nil || *a.DoCheck {
			t.Errorf("%s: %s runs its own test suite (doCheck must be false)", where, what)
		}
	}
	if pg == nil {
		t.Errorf("%s: postgresql is not built by image/postgresql.nix", where)
	} else {
		// ICU (about 30 MiB of data plus libstdc++), readline, OpenSSL and LLVM stay out.
		for _, f := range []string{"--without-icu", "--without-readline", "--without-openssl", "--without-llvm", "--without-libxml"} {
			if !slices.Contains(pg.ConfigureFlags, f) {
				t.Errorf("%s: postgresql is configured without %s: %v", where, f, pg.ConfigureFlags)
			}
		}
		for _, f := range pg.ConfigureFlags {
			if strings.HasPrefix(f, "--with-") && f != "--with-zlib" {
				t.Errorf("%s: postgresql is configured %s, which the budget does not hold", where, f)
			}
		}
		for _, in := range pg.BuildInputs {
			if !strings.HasSuffix(in, "-zlib") {
				t.Errorf("%s: postgresql links %s; only zlib is budgeted", where, in)
			}
		}
		if !slices.ContainsFunc(pg.DisallowedRequisites, func(s string) bool { return strings.HasSuffix(s, "-icu4c") }) ||
			!slices.ContainsFunc(pg.DisallowedRequisites, func(s string) bool { return strings.HasSuffix(s, "-gcc-wrapper") }) {
			t.Errorf("%s: postgresql's closure is not guarded against ICU and the compiler: %v", where, pg.DisallowedRequisites)
		}
		if pg.DoInstallCheck == nil || *pg.DoInstallCheck {
			t.Errorf("%s: postgresql runs its install check", where)
		}
		if !slices.Contains(pg.StripAllList, "bin") || !strings.Contains(pg.PostInstall, "trim.sh") {
			t.Errorf("%s: postgresql is not stripped and trimmed: strip %v, postInstall %q", where, pg.StripAllList, pg.PostInstall)
		}
		off("postgresql", pg)
	}

	off("redis", redis)
	if redisArgs["tlsSupport"] || redisArgs["withSystemd"] || redisArgs["useSystemJemalloc"] {
		t.Errorf("%s: redis is built with %v", where, redisArgs)
	}
	if redis != nil {
		for _, b := range []string{"redis-benchmark", "redis-sentinel", "redis-check-aof", "redis-check-rdb"} {
			if !strings.Contains(redis.PostInstall, "bin/"+b) {
				t.Errorf("%s: redis keeps %s", where, b)
			}
		}
		if !slices.Contains(redis.StripAllList, "bin") || !slices.Contains(redis.MakeFlags, "MALLOC=libc") {
			t.Errorf("%s: redis strip %v make %v", where, redis.StripAllList, redis.MakeFlags)
		}
	}

	off("garage", garage)
	if garage != nil {
		if !garage.CargoBuildNoDefaultFeatures || !slices.Contains(garage.CargoBuildFeatures, "lmdb") {
			t.Errorf("%s: garage features %v (no defaults: %v)", where, garage.CargoBuildFeatures, garage.CargoBuildNoDefaultFeatures)
		}
		for _, f := range []string{"kubernetes-discovery", "consul-discovery", "telemetry-otlp", "journald", "syslog"} {
			if slices.Contains(garage.CargoBuildFeatures, f) {
				t.Errorf("%s: garage is built with %s", where, f)
			}
		}
	}
}

// linked asserts that every package an -X ldflag stamps is linked into the program: a stamp on a
// package the program never imports is silently dropped (nixify-init said "dev" that way).
func linked(t *testing.T, where, main string, ldflags []string) {
	t.Helper()
	goBin := testpeer.Binary(t, "go")
	out, err := exec.Command(goBin, "list", "-deps", "../../"+main).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", main, err)
	}
	deps := strings.Fields(string(out))
	stamped := 0
	for _, f := range ldflags {
		pkg, _, ok := strings.Cut(strings.TrimPrefix(f, "-X "), "=")
		if !strings.HasPrefix(f, "-X ") || !ok {
			continue
		}
		pkg = pkg[:strings.LastIndex(pkg, ".")]
		if !slices.Contains(deps, pkg) {
			t.Errorf("%s: %s stamps %s, which %s does not link", where, f, pkg, main)
		}
		stamped++
	}
	if stamped == 0 {
		t.Errorf("%s: %s is not stamped with its version", where, main)
	}
}

// TestGoreleaserStampsLinkedPackages: the release binaries' -X stamps name packages the program
// links, as the flake's do (a stamp on a package the program does not link is silently dropped).
func TestGoreleaserStampsLinkedPackages(t *testing.T) {
	data, err := os.ReadFile("../../.goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Builds []struct {
			Main    string
			Ldflags []string
		}
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Builds) == 0 {
		t.Fatal(".goreleaser.yaml has no build")
	}
	for _, b := range cfg.Builds {
		var flags []string
		for _, l := range b.Ldflags {
			for _, f := range strings.Split(l, " -X ")[1:] {
				flags = append(flags, "-X "+f)
			}
			if rest, ok := strings.CutPrefix(l, "-X "); ok {
				flags = append(flags, "-X "+strings.Split(rest, " -X ")[0])
			}
		}
		linked(t, ".goreleaser.yaml", strings.TrimPrefix(b.Main, "./"), flags)
	}
}

// TestWorkflowEnforcesTheBudget: the build workflow measures and gates the image (its summary
// lists the largest store paths; over 60 MiB fails the job), keeps the Cachix path, and gives the
// 45-minute cold build a timeout with margin rather than hours.
func TestWorkflowEnforcesTheBudget(t *testing.T) {
	data, err := os.ReadFile("../../.github/workflows/build-docker.yml")
	if err != nil {
		t.Fatal(err)
	}
	wf := string(data)
	for _, want := range []string{"--closure --top 10", "--max-size 60MiB", "GITHUB_STEP_SUMMARY", "cachix/cachix-action", "BUILD_SECONDS"} {
		if !strings.Contains(wf, want) {
			t.Errorf("build-docker.yml lacks %q", want)
		}
	}
	m := regexp.MustCompile(`(?m)^    timeout-minutes: (\d+)$`).FindStringSubmatch(wf)
	if m == nil {
		t.Fatal("the build job has no timeout-minutes")
	}
	if n, _ := strconv.Atoi(m[1]); n < 50 || n > 90 {
		t.Errorf("timeout-minutes %d: want the 45-minute target with a margin (50-90)", n)
	}
}

// TestPostgresScripts runs image/postgresql/prepare.sh and trim.sh, which the Nix build and
// bench/pgmusl/build.sh share, on stand-ins of PostgreSQL's source and install trees.
func TestPostgresScripts(t *testing.T) {
	sh := testpeer.Binary(t, "sh")
	script := func(name string) string { p, _ := filepath.Abs("../../image/postgresql/" + name); return p }

	// PostgreSQL 16 guards the define with !defined(WIN32), 15 with HAVE_LOCALE_T too.
	for _, guard := range []string{"#if !defined(WIN32)", "#if defined(HAVE_LOCALE_T) && !defined(WIN32)"} {
		src := t.TempDir()
		f := filepath.Join(src, "src/backend/commands/collationcmds.c")
		os.MkdirAll(filepath.Dir(f), 0o755)
		os.WriteFile(f, []byte("/* will we use \"locale -a\"? */\n"+guard+"\n#define READ_LOCALE_A_OUTPUT\n#endif\n"), 0o644)
		cmd := exec.Command(sh, script("prepare.sh"))
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("prepare.sh: %v %s", err, out)
		}
		got, _ := os.ReadFile(f)
		if !strings.Contains(string(got), guard+"\n#ifdef __GLIBC__\n#define READ_LOCALE_A_OUTPUT\n#endif\n#endif") {
			t.Errorf("prepare.sh left:\n%s", got)
		}
	}
	// A PostgreSQL that renamed the define fails the build instead of silently keeping locale -a.
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "src/backend/commands"), 0o755)
	os.WriteFile(filepath.Join(src, "src/backend/commands/collationcmds.c"), []byte("#define SOMETHING_ELSE\n"), 0o644)
	cmd := exec.Command(sh, script("prepare.sh"))
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "READ_LOCALE_A_OUTPUT") {
		t.Errorf("prepare.sh on a source without the define: %v %s", err, out)
	}

	// trim.sh keeps the server and the everyday clients, drops the rest.
	prefix := t.TempDir()
	for _, f := range []string{"bin/postgres", "bin/initdb", "bin/pg_ctl", "bin/psql", "bin/pg_dump", "bin/pg_dumpall", "bin/pg_restore",
		"bin/pg_isready", "bin/pg_controldata", "bin/pg_resetwal", "bin/pgbench", "bin/ecpg", "bin/pg_config", "bin/pg_upgrade",
		"include/libpq-fe.h", "lib/libpq.so.5", "lib/libpgcommon.a", "lib/libecpg.so.6", "lib/pgxs/src/Makefile.global",
		"lib/plpgsql.so", "share/postgres.bki", "share/man/man1/psql.1"} {
		p := filepath.Join(prefix, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o755)
	}
	if out, err := exec.Command(sh, script("trim.sh"), prefix).CombinedOutput(); err != nil {
		t.Fatalf("trim.sh: %v %s", err, out)
	}
	for f, keep := range map[string]bool{"bin/postgres": true, "bin/psql": true, "bin/pg_dump": true, "lib/libpq.so.5": true,
		"lib/plpgsql.so": true, "share/postgres.bki": true, "bin/pgbench": false, "bin/ecpg": false, "bin/pg_config": false,
		"bin/pg_upgrade": false, "include": false, "lib/libpgcommon.a": false, "lib/libecpg.so.6": false, "lib/pgxs": false, "share/man": false} {
		if _, err := os.Stat(filepath.Join(prefix, f)); (err == nil) != keep {
			t.Errorf("trim.sh: %s kept = %v, want %v", f, err == nil, keep)
		}
	}
	os.Remove(filepath.Join(prefix, "bin/postgres"))
	if out, err := exec.Command(sh, script("trim.sh"), prefix).CombinedOutput(); err == nil {
		t.Errorf("trim.sh without postgres succeeded: %s", out)
	}
}

// TestFlakeEvaluatesPureFromAGitCheckout evaluates the real flake.nix and image/ with nix in pure
// mode from a clean git checkout, nixpkgs swapped for the stand-in (the one line that fetches
// it): the revision label is the commit, the tree stays clean, and nixify-init's source is the Go
// files only, so a change to anything else leaves it alone.
func TestFlakeEvaluatesPureFromAGitCheckout(t *testing.T) {
	n := testNix(t)
	git := testpeer.Binary(t, "git")
	dir := t.TempDir()
	copyTree := func(from, to string) {
		t.Helper()
		err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(from, p)
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			os.MkdirAll(filepath.Join(to, filepath.Dir(rel)), 0o755)
			return os.WriteFile(filepath.Join(to, rel), data, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	copyTree("../../image", filepath.Join(dir, "image"))
	copyTree("testdata/contract", filepath.Join(dir, "contract"))
	flake, err := os.ReadFile("../../flake.nix")
	if err != nil {
		t.Fatal(err)
	}
	pin := regexp.MustCompile(`builtins\.getFlake "github:NixOS/nixpkgs/[0-9a-f]{40}"`)
	if !pin.Match(flake) {
		t.Fatal("flake.nix does not pin nixpkgs with getFlake")
	}
	for name, data := range map[string]string{
		"flake.nix":            pin.ReplaceAllString(string(flake), "import ./contract/nixpkgs-stand-in.nix"),
		"go.mod":               "module example\n",
		"go.sum":               "",
		"cmd/main.go":          "package main\n",
		"internal/x/x.go":      "package x\n",
		"pkg/y/y.go":           "package y\n",
		"BENCHMARKS.md":        "figures\n",
		".github/workflow.yml": "on: push\n",
	} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(git, append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	eval := func(attr string) string {
		t.Helper()
		cmd := n.Command(context.Background(), "eval", "--raw", "git+file://"+dir+"#packages.x86_64-linux."+attr)
		out, err := cmd.Output()
		if err != nil {
			msg := err.Error()
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			t.Fatalf("nix eval %s: %s", attr, msg)
		}
		return string(out)
	}
	run("init", "-q")
	run("add", ".")
	run("commit", "-qm", "first")

	if got, head := eval(`docker-image-static.imageArgs.config.Labels."org.opencontainers.image.revision"`), run("rev-parse", "HEAD"); got != head {
		t.Errorf("revision label %q, want the commit %s", got, head)
	}
	if st := run("status", "--porcelain"); st != "" {
		t.Errorf("evaluating left the checkout dirty:\n%s", st)
	}
	src := eval("nixify-init.goArgs.src")
	entries, _ := os.ReadDir(src)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"cmd", "go.mod", "go.sum", "internal", "pkg"}) {
		t.Errorf("nixify-init's source holds %v", names)
	}

	os.WriteFile(filepath.Join(dir, "BENCHMARKS.md"), []byte("new figures\n"), 0o644)
	ports, _ := os.ReadFile(filepath.Join(dir, "image/ports.nix"))
	os.WriteFile(filepath.Join(dir, "image/ports.nix"), append(ports, "# a comment\n"...), 0o644)
	run("commit", "-qam", "docs and image")
	if again := eval("nixify-init.goArgs.src"); again != src {
		t.Errorf("a change outside the Go files changed nixify-init's source: %s -> %s", src, again)
	}
	os.WriteFile(filepath.Join(dir, "internal/x/x.go"), []byte("package x\n\nconst y = 1\n"), 0o644)
	run("commit", "-qam", "go")
	if again := eval("nixify-init.goArgs.src"); again == src {
		t.Errorf("a Go change left nixify-init's source as it was")
	}
}
