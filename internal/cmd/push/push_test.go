package push

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/image/imagetest"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/record"
	"github.com/nixify/nixify/internal/testpeer"
)

// fixture records a build of each architecture (written with compress: "", "gzip" or "zstd") and
// starts an in-process registry; cfg points the push at both.
func fixture(t *testing.T, compress string, archs ...arch.Arch) (dir, repo string, cfg func() (*config.Loaded, error)) {
	t.Helper()
	dir = t.TempDir()
	store := record.Store{Dir: dir}
	for i, a := range archs {
		p := filepath.Join(dir, a.String()+".tar")
		if _, err := imagetest.WriteFile(p, imagetest.Spec{Arch: a.GOARCH(), Seed: uint64(i), Compress: compress}); err != nil {
			t.Fatal(err)
		}
		store.Save(record.Build{Arch: a, OutPath: p, Kind: record.Tarball, FlakeRevision: "fedcba9876543210", BuiltAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo = strings.TrimPrefix(srv.URL, "http://") + "/o/n"
	cfg = func() (*config.Loaded, error) {
		return &config.Loaded{Config: config.Config{StateDir: dir, Repo: repo, Architectures: archs}}, nil
	}
	return dir, repo, cfg
}

func TestPushLastBuilds(t *testing.T) {
	dir, repo, cfg := fixture(t, "gzip", "x86_64", "aarch64")
	env := map[string]string{"GITHUB_REF_NAME": "main", "GITHUB_SHA": "fedcba9876543210", "GITHUB_ACTIONS": "true"}
	ios, _, out, _ := iostreams.Test()
	refs := filepath.Join(dir, "refs.txt")
	o := &Options{StallTimeout: time.Minute, IO: ios, Config: cfg, Getenv: func(k string) string { return env[k] }, WorkDir: dir, Arch: "all", ImageRefs: refs}
	if err := pushRun(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(out.String())
	file, _ := os.ReadFile(refs)
	if len(lines) != 3 || !strings.HasPrefix(lines[0], repo+"@sha256:") || strings.Join(strings.Fields(string(file)), " ") == "" {
		t.Errorf("stdout %q, refs file %q", out, file)
	}
	// deploy runs what the push recorded: the index by digest, with each architecture's image.
	pushed, err := record.Store{Dir: dir}.LastPush()
	if err != nil || pushed.Ref() != lines[len(lines)-1] || len(pushed.Images) != 2 || !strings.HasPrefix(pushed.Images[arch.AArch64], "sha256:") ||
		len(pushed.Tags) == 0 || time.Since(pushed.PushedAt) > time.Minute {
		t.Errorf("push record %+v, %v; pushed %q", pushed, err, lines)
	}

	// Bad input: one clear line each.
	for _, bad := range []*Options{
		{Arch: "mips"},
		{Arch: "all", Tags: []string{"-x"}},
		{Arch: "all", Username: "u"},
		{Arch: "all", PasswordStdin: true},
		{Arch: "all", StallTimeout: -time.Second},
	} {
		bad.IO, bad.Config, bad.Getenv = ios, cfg, o.Getenv
		if bad.StallTimeout == 0 {
			bad.StallTimeout = time.Minute
		}
		if err := pushRun(context.Background(), bad); err == nil || strings.Contains(err.Error(), "\n") || cli.Code(err) != cli.ExitUsage {
			t.Errorf("%+v: %v (exit %d)", bad, err, cli.Code(err))
		}
	}
}

func TestPushPerArchitectureThenIndexFrom(t *testing.T) {
	dir, repo, cfg := fixture(t, "", "x86_64", "aarch64")
	env := map[string]string{"GITHUB_REF_NAME": "main", "GITHUB_SHA": "fedcba9876543210", "GITHUB_ACTIONS": "true"}
	getenv := func(k string) string { return env[k] }
	var files []string
	for _, arch := range []string{"x86_64", "aarch64"} {
		ios, _, out, _ := iostreams.Test()
		refs := filepath.Join(dir, "refs-"+arch+".txt")
		o := &Options{StallTimeout: time.Minute, IO: ios, Config: cfg, Getenv: getenv, WorkDir: dir, Arch: arch, NoIndex: true, ImageRefs: refs}
		if err := pushRun(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		if n := len(strings.Fields(out.String())); n != 1 {
			t.Fatalf("--no-index printed %d references: %q", n, out)
		}
		files = append(files, refs)
	}
	ios, _, out, _ := iostreams.Test()
	o := &Options{StallTimeout: time.Minute, IO: ios, Config: cfg, Getenv: getenv, WorkDir: dir, Arch: "all", IndexFrom: files}
	if err := pushRun(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(out.String())
	if len(lines) != 3 {
		t.Fatalf("index push printed %q", out)
	}
	set, err := imagetest.OpenSet(repo + ":latest")
	if err != nil || set.Index == nil || len(set.Images) != 2 || !strings.HasSuffix(lines[len(lines)-1], set.Index.Digest) {
		t.Fatalf("latest: %+v %v (printed %q)", set, err, lines)
	}

	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	o = &Options{StallTimeout: time.Minute, IO: ios, Config: cfg, Getenv: getenv, Arch: "all", IndexFrom: []string{empty}}
	if err := pushRun(context.Background(), o); err == nil || !strings.Contains(err.Error(), "list no image references") {
		t.Fatalf("empty refs file: %v", err)
	}
}

// TestDryRunPredictsPushWithoutGit: with --tag and no git checkout, the index's created time comes
// from the newest build, not the clock, so a dry run and the push that follows agree on digests.
func TestDryRunPredictsPushWithoutGit(t *testing.T) {
	dir := t.TempDir()
	store := record.Store{Dir: dir}
	built := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	p := filepath.Join(dir, "x86_64.tar")
	if _, err := imagetest.WriteFile(p, imagetest.Spec{Arch: "amd64"}); err != nil {
		t.Fatal(err)
	}
	store.Save(record.Build{Arch: "x86_64", OutPath: p, Kind: record.Tarball, BuiltAt: built})
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/o/n"
	cfg := func() (*config.Loaded, error) {
		return &config.Loaded{Config: config.Config{StateDir: dir, Repo: repo, Architectures: []arch.Arch{arch.X86_64}}}, nil
	}
	run := func(dry bool) string {
		ios, _, out, _ := iostreams.Test()
		o := &Options{StallTimeout: time.Minute, IO: ios, Config: cfg, Getenv: func(string) string { return "" }, WorkDir: dir,
			Arch: "x86_64", Tags: []string{"v1"}, DryRun: dry}
		if err := pushRun(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	planned := run(true)
	time.Sleep(1100 * time.Millisecond) // a clock-based created time would now differ
	if pushed := run(false); pushed != planned {
		t.Fatalf("dry run printed\n%s\npush printed\n%s", planned, pushed)
	}
}

// TestFilesAndStdinPushDidNotWrite: an --index-from file is read as data with a bound, each line
// checked before anything is asked of the registry (exit 2, the line named); a password on stdin
// longer than any token is refused rather than read to the end.
func TestFilesAndStdinPushDidNotWrite(t *testing.T) {
	dir, _, cfg := fixture(t, "", "x86_64")
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("127.0.0.1:1/o/n@sha256:"+strings.Repeat("a", 64)+"\n$(rm -rf /)\n"), 0o644)
	huge := filepath.Join(dir, "huge.txt")
	os.WriteFile(huge, bytes.Repeat([]byte("x"), 2<<20), 0o644)
	for name, file := range map[string]string{"bad line": bad, "huge": huge} {
		_, _, err := run(t, opt(cfg, dir, func(o *Options) { o.IndexFrom = []string{file} }))
		if err == nil || cli.Code(err) != cli.ExitUsage || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v (exit %d)", name, err, cli.Code(err))
		}
		if name == "bad line" && (err == nil || !strings.Contains(err.Error(), "line 2")) {
			t.Errorf("bad line: %v does not name line 2", err)
		}
	}

	ios, in, _, _ := iostreams.Test()
	in.Write(bytes.Repeat([]byte("p"), 1<<20))
	o := opt(cfg, dir, func(o *Options) { o.Username, o.PasswordStdin = "ci", true })
	o.IO = ios
	if err := pushRun(context.Background(), o); err == nil || cli.Code(err) != cli.ExitUsage || strings.Contains(err.Error(), "pppp") {
		t.Errorf("1 MiB password: %v (exit %d)", err, cli.Code(err))
	}
}

// TestTwoPushesAtOnce: two pushes of the same builds to the same repository (Debian's
// docker-registry) and the same --image-refs file at once both succeed; every tag ends on the
// index they both computed, and the refs file holds one whole list.
func TestTwoPushesAtOnce(t *testing.T) {
	reg := testpeer.StartRegistry(t, "", "")
	dir, _, cfg := fixture(t, "", "x86_64", "aarch64")
	repo := reg.Addr() + "/o/n"
	cfg2 := func() (*config.Loaded, error) {
		l, _ := cfg()
		l.Config.Repo = repo
		return l, nil
	}
	refs := filepath.Join(dir, "refs.txt")
	errs := make(chan error, 2)
	outs := make(chan string, 2)
	for range 2 {
		go func() {
			out, _, err := run(t, opt(cfg2, dir, func(o *Options) { o.ImageRefs, o.StallTimeout = refs, 10*time.Second }))
			errs <- err
			outs <- out
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	out := <-outs
	lines := strings.Fields(out)
	index := lines[len(lines)-1] // REPO@sha256:... of the index
	tags, err := remote.List(mustRepo(t, repo))
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"latest", "main-fedcba9"} {
		d, err := remote.Head(mustRepo(t, repo).Tag(tag))
		if err != nil || !strings.HasSuffix(index, d.Digest.String()) {
			t.Errorf("%s: %v %v, want %s (tags %q)", tag, d, err, index, tags)
		}
	}
	if data, _ := os.ReadFile(refs); len(strings.Fields(string(data))) != 3 {
		t.Errorf("refs file %q", data)
	}
}
