package build

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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
		if !slices.Contains(pg.StripAllList, "bin") {
			t.Errorf("%s: postgresql is not stripped: %v", where, pg.StripAllList)
		}
		// The install phase's end, run on an installed tree: trimmed, and the references to the
		// compiler and zlib's headers removed from every program and library.
		kept := []string{"bin/initdb", "bin/pg_basebackup", "bin/pg_controldata", "bin/pg_ctl", "bin/pg_dump", "bin/pg_dumpall", "bin/pg_isready", "bin/pg_resetwal",
			"bin/pg_restore", "bin/postgres", "bin/psql", "lib/libpq.so.5", "lib/plpgsql.so", "share/postgres.bki"}
		out, calls, err := runPostInstall(t, pg.PostInstall, append([]string{"bin/pgbench", "bin/ecpg", "bin/pg_config", "include/libpq-fe.h",
			"lib/libpgcommon.a"}, kept...))
		if err != nil {
			t.Errorf("%s: postgresql's postInstall: %v", where, err)
		}
		if left := tree(out); !slices.Equal(left, kept) {
			t.Errorf("%s: postgresql's postInstall leaves %v", where, left)
		}
		if !strings.Contains(calls, "-gcc-wrapper -t ") || !strings.Contains(calls, "-zlib-dev "+out+"/bin/initdb") || !strings.Contains(calls, out+"/lib/libpq.so.5") {
			t.Errorf("%s: postgresql's postInstall removes references with: %s", where, calls)
		}
		off("postgresql", pg)
	}

	off("redis", redis)
	if redisArgs["tlsSupport"] || redisArgs["withSystemd"] || redisArgs["useSystemJemalloc"] {
		t.Errorf("%s: redis is built with %v", where, redisArgs)
	}
	if redis != nil {
		out, _, err := runPostInstall(t, redis.PostInstall, []string{"bin/redis-server", "bin/redis-cli", "bin/redis-benchmark",
			"bin/redis-sentinel", "bin/redis-check-aof", "bin/redis-check-rdb", "share/doc/redis.conf"})
		if left := tree(out); err != nil || !slices.Equal(left, []string{"bin/redis-cli", "bin/redis-server"}) {
			t.Errorf("%s: redis's postInstall: %v, leaves %v", where, err, left)
		}
		// Without the server the build fails rather than ship an image that cannot start Redis.
		if _, _, err := runPostInstall(t, redis.PostInstall, []string{"bin/redis-cli"}); err == nil {
			t.Errorf("%s: redis's postInstall passes without redis-server", where)
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

// runPostInstall runs a derivation's postInstall with bash on a fresh $out holding files (each an
// executable), as the install phase would, with remove-references-to recording its arguments.
func runPostInstall(t *testing.T, script string, files []string) (out, calls string, err error) {
	t.Helper()
	out = t.TempDir()
	for _, f := range files {
		os.MkdirAll(filepath.Join(out, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(out, f), []byte("x"), 0o755)
	}
	record := filepath.Join(t.TempDir(), "calls")
	cmd := exec.Command(testpeer.Binary(t, "bash"), "-euc", "remove-references-to() { echo \"$*\" >> \"$calls\"; }\n"+script)
	cmd.Env = append(os.Environ(), "out="+out, "calls="+record, "PATH=/usr/bin:/bin")
	if o, e := cmd.CombinedOutput(); e != nil {
		err = fmt.Errorf("%v: %s", e, o)
	}
	data, _ := os.ReadFile(record)
	return out, string(data), err
}

// tree lists the files under dir, relative and sorted.
func tree(dir string) []string {
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, rel)
		}
		return nil
	})
	slices.Sort(files)
	return files
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

// workflowStep is a step of .github/workflows/build-docker.yml.
type workflowStep struct {
	Name, ID, If, Uses, Run string
	Timeout                 int               `yaml:"timeout-minutes"`
	With                    map[string]string `yaml:"with"`
}

// TestBuildWorkflowOrder reads the build workflow as GitHub does (YAML) and checks what its runs
// depend on: the plan comes before anything is built, the components are built with
// --keep-going before the image, the budget after it; the components step times out before the
// job does, and the Nix store is saved after it whatever happened (always()), by the cache action
// pinned to a commit, under a partial key when the components did not all build.
func TestBuildWorkflowOrder(t *testing.T) {
	data, err := os.ReadFile("../../.github/workflows/build-docker.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Timeout int `yaml:"timeout-minutes"`
			Steps   []workflowStep
		}
	}
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatal(err)
	}
	job := wf.Jobs["build"]
	find := func(what string, match func(s workflowStep) bool) (int, workflowStep) {
		t.Helper()
		for i, s := range job.Steps {
			if match(s) {
				return i, s
			}
		}
		t.Fatalf("the build job has no step that %s", what)
		return 0, workflowStep{}
	}
	plan, _ := find("runs nixify build --plan", func(s workflowStep) bool { return strings.Contains(s.Run, "nixify build --arch \"$ARCH\" --plan") })
	comps, c := find("builds the components", func(s workflowStep) bool { return strings.Contains(s.Run, ".github/scripts/components.sh build ") })
	image, _ := find("builds the image", func(s workflowStep) bool { return strings.Contains(s.Run, "nixify build --arch \"$ARCH\"\n") })
	budget, _ := find("checks the budget", func(s workflowStep) bool { return strings.Contains(s.Run, "components.sh budget ") })
	restore, r := find("restores the Nix store", func(s workflowStep) bool { return strings.Contains(s.Uses, "cache-nix-action/restore@") })
	save, sv := find("saves the Nix store", func(s workflowStep) bool { return strings.Contains(s.Uses, "cache-nix-action/save@") })
	if !(restore < plan && plan < comps && comps < image && image < budget && comps < save) {
		t.Errorf("step order: restore %d, plan %d, components %d, image %d, budget %d, save %d", restore, plan, comps, image, budget, save)
	}
	if c.Timeout <= 0 || job.Timeout <= c.Timeout+30 {
		t.Errorf("the components step times out after %d minutes, the job after %d: the job must leave time to save the store", c.Timeout, job.Timeout)
	}
	if !strings.Contains(sv.If, "always()") || !strings.Contains(sv.With["primary-key"], "-partial-") {
		t.Errorf("the save step runs if %q with key %q: it must run after a failure, under a partial key", sv.If, sv.With["primary-key"])
	}
	pin := regexp.MustCompile(`^nix-community/cache-nix-action/(restore|save)@[0-9a-f]{40}$`)
	if !pin.MatchString(r.Uses) || !pin.MatchString(sv.Uses) || r.Uses[strings.Index(r.Uses, "@"):] != sv.Uses[strings.Index(sv.Uses, "@"):] {
		t.Errorf("the cache actions are %q and %q: pin both to one commit", r.Uses, sv.Uses)
	}
	// The key leaves the Go source out: a Go-only change restores the whole store.
	_, k := find("computes the cache key", func(s workflowStep) bool { return s.ID == "key" })
	if !strings.Contains(k.Run, "hashFiles('flake.nix', 'image/**')") || strings.Contains(k.Run, ".go") || strings.Contains(k.Run, "go.sum") {
		t.Errorf("cache key %q: want the image's definition only", k.Run)
	}
	script, _ := filepath.Abs("../../.github/scripts/components.sh")
	for _, args := range [][]string{{"build"}, {"build", ".", "x86_64-linux", "x86_64; rm -rf /", t.TempDir()}, {"build", ".", "riscv64-linux", "x86_64", t.TempDir()}, {"frobnicate"}} {
		cmd := exec.Command(testpeer.Binary(t, "bash"), append([]string{script}, args...)...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
			t.Errorf("components.sh %q: %v, want exit 2 and one line:\n%s", args, err, out)
		}
	}
}

// TestWorkflowCallsTheCLIItBuilds runs every nixify command line of the build workflow against
// the CLI built from this tree, with --help appended: a flag the CLI does not have (renamed,
// removed, not yet merged) fails here rather than on GitHub.
func TestWorkflowCallsTheCLIItBuilds(t *testing.T) {
	data, err := os.ReadFile("../../.github/workflows/build-docker.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct{ Steps []workflowStep }
	}
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "nixify")
	if out, err := exec.Command(testpeer.Binary(t, "go"), "build", "-o", bin, "../../cmd/nixify").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v %s", err, out)
	}
	call := regexp.MustCompile(`(?:^|[\s(!])nixify ([a-z][^|;&>)\n]*)`)
	subst := strings.NewReplacer(`${{ matrix.arch }}`, "x86_64", `"$ARCH"`, "x86_64", `"${max}MiB"`, "60MiB", `"`, "")
	seen := map[string]bool{}
	for _, job := range wf.Jobs {
		for _, s := range job.Steps {
			for _, m := range call.FindAllStringSubmatch(s.Run, -1) {
				args := strings.Fields(subst.Replace(m[1]))
				if n := len(args) - 1; strings.Trim(args[n], "0123456789") == "" {
					args = args[:n] // a redirection's file descriptor (2>&1)
				}
				seen[args[0]+" "+strings.Join(args[1:], " ")] = true
				cmd := exec.Command(bin, append(args, "--help")...)
				cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("step %q: nixify %s: %v\n%s", s.Name, strings.Join(args, " "), err, out)
				}
			}
		}
	}
	for _, want := range []string{"build --arch x86_64 --plan", "build --arch x86_64", "info --arch x86_64 --closure --top 10 --max-size 60MiB"} {
		if !seen[want] {
			t.Errorf("the workflow does not run nixify %s; it runs %v", want, slices.Sorted(maps.Keys(seen)))
		}
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
	for _, f := range []string{"bin/postgres", "bin/initdb", "bin/pg_ctl", "bin/psql", "bin/pg_dump", "bin/pg_dumpall", "bin/pg_basebackup", "bin/pg_restore",
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
	for f, keep := range map[string]bool{"bin/postgres": true, "bin/psql": true, "bin/pg_dump": true, "bin/pg_basebackup": true, "lib/libpq.so.5": true,
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

// componentsScript runs .github/scripts/components.sh, the build workflow's component step, with
// Debian's nix on the fixture flake testdata/components.
func componentsScript(t *testing.T, nixConfig string, args ...string) (string, int) {
	t.Helper()
	bash := testpeer.Binary(t, "bash")
	nixBin := testpeer.Binary(t, "nix")
	testpeer.Binary(t, "jq")
	script, _ := filepath.Abs("../../.github/scripts/components.sh")
	cmd := exec.Command(bash, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "NIX_CONFIG="+nixConfig, "PATH="+filepath.Dir(nixBin)+":/usr/bin:/bin")
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// results reads the per-component lines the build step leaves in its state directory.
func results(t *testing.T, state string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(state, "results.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(l, "\t")
		got[f[0]] = f[1:]
	}
	return got
}

// TestComponentsStepKeepsGoingAndNamesTheCulprit: one failing component and one whose toolchain
// fails do not stop the others; each is reported as built, failed or blocked, with its own build
// time and closure size, and the failing derivations are named. The next run finds what was built
// in the store and fetches from a binary cache what is there.
func TestComponentsStepKeepsGoingAndNamesTheCulprit(t *testing.T) {
	testNix(t)
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/components/flake.nix")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "flake.nix"), data, 0o644)
	os.WriteFile(filepath.Join(dir, "nonce"), []byte(strconv.FormatInt(time.Now().UnixNano(), 10)), 0o644)
	os.WriteFile(filepath.Join(dir, "fail"), nil, 0o644)
	flake := "path:" + dir

	state := filepath.Join(t.TempDir(), "x86_64")
	out, code := componentsScript(t, testConfig, "build", flake, "x86_64-linux", "x86_64", state)
	if code != 1 {
		t.Fatalf("build with a failing component: exit %d, want 1\n%s", code, out)
	}
	got := results(t, state)
	for name, want := range map[string]string{"alpha": "built", "beta": "built", "gamma": "failed", "delta": "not built: a dependency failed"} {
		r := got[name]
		if len(r) != 4 || r[0] != name+"-x86_64" || r[1] != want {
			t.Errorf("%s: %v, want %s\n%s", name, r, want, out)
		}
	}
	// Its own build: the seconds between its first and last log line; the closure holds the
	// shared library (2 MiB) besides alpha's own 3 MiB.
	if s, err := strconv.Atoi(got["alpha"][2]); err != nil || s < 0 {
		t.Errorf("alpha's build time %q", got["alpha"][2])
	}
	if c, _ := strconv.ParseInt(got["alpha"][3], 10, 64); c < 5<<20 || c > 6<<20 {
		t.Errorf("alpha's closure %q bytes, want about 5 MiB", got["alpha"][3])
	}
	if got["gamma"][3] != "-" || got["delta"][2] != "-" {
		t.Errorf("gamma %v delta %v: a component that was not built has no closure or time", got["gamma"], got["delta"])
	}
	failed, _ := os.ReadFile(filepath.Join(state, "failed.txt"))
	if !strings.Contains(string(failed), "-gamma-0.1.drv\n    gamma> compiling gamma-0.1\n    gamma> error: it does not compile\n") ||
		!strings.Contains(string(failed), "-toolchain-1.0.drv\n    toolchain> compiling toolchain-1.0\n") || strings.Contains(string(failed), "alpha") {
		t.Errorf("failed.txt does not name gamma and the toolchain:\n%s", failed)
	}
	// The budget step counts what did build.
	if out, code := componentsScript(t, testConfig, "budget", state, strconv.Itoa(70<<20)); code != 1 || !strings.Contains(out, "- alpha: 3.0 MiB: make alpha smaller\n") {
		t.Errorf("budget after a failed component: exit %d\n%s", code, out)
	}
	table, code := componentsScript(t, testConfig, "table", state)
	if code != 0 || !strings.Contains(table, "| gamma | `gamma-x86_64` | failed | ") || !strings.Contains(table, "| alpha | `alpha-x86_64` | built | ") ||
		!strings.Contains(table, "5.0 MiB |") {
		t.Errorf("table: exit %d\n%s", code, table)
	}

	// The fix lands; alpha is still in the store (the Actions cache), beta is only in a binary
	// cache, gamma and delta get built.
	os.Remove(filepath.Join(dir, "fail"))
	os.RemoveAll(filepath.Join(state, "roots"))
	n := testNix(t)
	cache := t.TempDir()
	betaOut := readMember(t, state, "beta")
	if out, err := n.Command(context.Background(), "copy", "--to", "file://"+cache, betaOut).CombinedOutput(); err != nil {
		t.Fatalf("nix copy: %v %s", err, out)
	}
	if out, err := n.Command(context.Background(), "store", "delete", betaOut).CombinedOutput(); err != nil {
		t.Fatalf("nix store delete: %v %s", err, out)
	}
	state2 := filepath.Join(t.TempDir(), "x86_64")
	withCache := testConfig + "\nsubstituters = file://" + cache + "\nrequire-sigs = false"
	out, code = componentsScript(t, withCache, "build", flake, "x86_64-linux", "x86_64", state2)
	if code != 0 {
		t.Fatalf("build after the fix: exit %d\n%s", code, out)
	}
	got = results(t, state2)
	for name, want := range map[string]string{"alpha": "in store (cache)", "beta": "fetched", "gamma": "built", "delta": "built"} {
		if r := got[name]; len(r) != 4 || r[1] != want {
			t.Errorf("%s: %v, want %s\n%s", name, r, want, out)
		}
	}
}

// TestComponentsStepStoppedByItsTimeout: when the runner stops the build step (its timeout sends
// the step's processes SIGTERM), the summary still has the table: what built is "built", what was
// still building is "unfinished", and it says the next run resumes.
func TestComponentsStepStoppedByItsTimeout(t *testing.T) {
	n := testNix(t)
	dir := t.TempDir()
	data, _ := os.ReadFile("testdata/components/flake.nix")
	os.WriteFile(filepath.Join(dir, "flake.nix"), data, 0o644)
	os.WriteFile(filepath.Join(dir, "nonce"), []byte(strconv.FormatInt(time.Now().UnixNano(), 10)), 0o644)
	os.WriteFile(filepath.Join(dir, "slow"), nil, 0o644)
	state := t.TempDir()
	script, _ := filepath.Abs("../../.github/scripts/components.sh")
	cmd := exec.Command(testpeer.Binary(t, "bash"), script, "build", "path:"+dir, "x86_64-linux", "x86_64", state)
	// Several builds at once, as on GitHub's runners (max-jobs = auto): alpha builds while
	// epsilon sleeps.
	cmd.Env = append(os.Environ(), "NIX_CONFIG="+testConfig+"\nmax-jobs = 4", "PATH="+filepath.Dir(n.Path)+":/usr/bin:/bin")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Stop it once alpha is in the store and epsilon is building (or give up after a minute).
	deadline := time.Now().Add(time.Minute)
	for {
		buildLog, _ := os.ReadFile(filepath.Join(state, "build.log"))
		if bytes.Contains(buildLog, []byte("epsilon> sleeping")) {
			if out := readMember(t, state, "alpha"); n.Command(context.Background(), "path-info", out).Run() == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("alpha never built while epsilon was building:\n%s", buildLog)
		}
		time.Sleep(100 * time.Millisecond)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(time.Minute):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("the build step did not stop on SIGTERM:\n%s", log.String())
	}

	table, code := componentsScript(t, testConfig, "table", state)
	if code != 0 || !strings.Contains(table, "| alpha | `alpha-x86_64` | built |") || !strings.Contains(table, "| epsilon | `epsilon-x86_64` | unfinished: the step was stopped |") ||
		!strings.Contains(table, "the next run resumes from it") {
		t.Errorf("table after the step was stopped: exit %d\n%s\nbuild step:\n%s", code, table, log.String())
	}
}

// readMember is the output path of a member as the build step evaluated it.
func readMember(t *testing.T, state, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(state, "components.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Members map[string]struct{ Out string }
	}
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c.Members[name].Out
}

// TestBudgetNamesTheLargestComponents: over 60 MiB the budget step fails naming the largest
// components, each component's own store paths apart from what several share, with the lever
// image/budget.nix gives; within the budget it says how much is left.
func TestBudgetNamesTheLargestComponents(t *testing.T) {
	testNix(t)
	dir := t.TempDir()
	data, _ := os.ReadFile("testdata/components/flake.nix")
	os.WriteFile(filepath.Join(dir, "flake.nix"), data, 0o644)
	os.WriteFile(filepath.Join(dir, "nonce"), []byte(strconv.FormatInt(time.Now().UnixNano(), 10)), 0o644)
	state := t.TempDir()
	if out, code := componentsScript(t, testConfig, "build", "path:"+dir, "x86_64-linux", "x86_64", state); code != 0 {
		t.Fatalf("build: exit %d\n%s", code, out)
	}

	over := strconv.Itoa(61 << 20)
	out, code := componentsScript(t, testConfig, "budget", state, over)
	if code != 1 {
		t.Fatalf("budget over 60 MiB: exit %d, want 1\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		"**Budget: the image is 61.0 MiB of 60 MiB: over by 1.0 MiB.**",
		"Largest components (their own store paths; shared: what several of them link), with the lever for each:",
		"- alpha: 3.0 MiB: make alpha smaller",
		"- shared: 2.0 MiB: share less",
		"- beta: 1.0 MiB: make beta smaller",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("budget over:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}

	out, code = componentsScript(t, testConfig, "budget", state, strconv.Itoa(50<<20))
	if code != 0 || strings.TrimSpace(out) != "Budget: the image is 50.0 MiB of 60 MiB (10.0 MiB to spare)." {
		t.Errorf("budget under: exit %d\n%s", code, out)
	}
	table, code := componentsScript(t, testConfig, "table", state, strconv.Itoa(50<<20))
	if code != 0 || !strings.HasSuffix(strings.TrimSpace(table), "Budget: the image is 50.0 MiB of 60 MiB (10.0 MiB to spare).") {
		t.Errorf("table with the image: exit %d\n%s", code, table)
	}

	// The image was not built: the summary's table has no budget line.
	if table, code := componentsScript(t, testConfig, "table", state, "null"); code != 0 || strings.Contains(table, "Budget") {
		t.Errorf("table without an image size: exit %d\n%s", code, table)
	}

	// Hostile sizes are refused with one line and the usage exit code.
	for _, bad := range []string{"", "12MiB", "-1", "1;rm -rf /"} {
		out, code := componentsScript(t, testConfig, "budget", state, bad)
		if code != 2 || !strings.Contains(out, "is not a number of bytes") {
			t.Errorf("budget %q: exit %d\n%s", bad, code, out)
		}
	}
	if out, code := componentsScript(t, testConfig, "table", t.TempDir()); code != 1 || !strings.Contains(out, "has no results") {
		t.Errorf("table without a build: exit %d\n%s", code, out)
	}
}
