package push

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/record"
	"github.com/nixify/nixify/internal/registryclient"
	"github.com/nixify/nixify/internal/testpeer"
)

var ciEnv = map[string]string{"GITHUB_REF_NAME": "main", "GITHUB_SHA": "fedcba9876543210", "GITHUB_ACTIONS": "true"}

// opt is a push of the fixture's builds, as CI would run it, with fast retries and a short
// request timeout; change adjusts it.
func opt(cfg func() (*config.Loaded, error), dir string, change func(*Options)) *Options {
	ios, _, _, _ := iostreams.Test()
	o := &Options{IO: ios, Config: cfg, Getenv: func(k string) string { return ciEnv[k] }, WorkDir: dir, Arch: "all",
		StallTimeout: 300 * time.Millisecond, Client: []registryclient.Option{registryclient.WithBackoff(remote.Backoff{Duration: 10 * time.Millisecond, Factor: 1, Steps: 2})}}
	if change != nil {
		change(o)
	}
	return o
}

func run(t *testing.T, o *Options) (stdout, stderr string, err error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	ios.Format = o.IO.Format
	o.IO = ios
	err = pushRun(context.Background(), o)
	return out.String(), errOut.String(), err
}

// TestNoIndexDryRunIsThePlan: push --no-index --dry-run announced an index and tags that the
// real --no-index push does not write. Both must print the same plan, with no index in it.
func TestNoIndexDryRunIsThePlan(t *testing.T) {
	dir, repo, cfg := fixture(t, "", "x86_64", "aarch64")
	dryOut, dryErr, err := run(t, opt(cfg, dir, func(o *Options) { o.NoIndex, o.DryRun = true, true }))
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, err := run(t, opt(cfg, dir, func(o *Options) { o.NoIndex = true }))
	if err != nil {
		t.Fatal(err)
	}
	if dryOut != out || strings.Count(out, "\n") != 2 {
		t.Errorf("dry run stdout %q, push stdout %q", dryOut, out)
	}
	if got, want := summaryLines(errOut, "pushed "), summaryLines(dryErr, "would push "); !slices.Equal(got, want) || len(got) != 2 {
		t.Errorf("push %q, dry run %q", got, want)
	}
	if strings.Contains(dryErr, "index") {
		t.Errorf("the --no-index dry run mentions an index:\n%s", dryErr)
	}
	tags, _ := remote.List(mustRepo(t, repo))
	if slices.Contains(tags, "latest") || slices.Contains(tags, "main-fedcba9") {
		t.Errorf("--no-index wrote index tags: %q", tags)
	}
}

// TestArchPushKeepsMultiArchLatest: push --arch x86_64 after a two-architecture push would turn
// latest into an x86_64-only index; it is refused, naming aarch64, unless --force.
func TestArchPushKeepsMultiArchLatest(t *testing.T) {
	dir, repo, cfg := fixture(t, "", "x86_64", "aarch64")
	if _, _, err := run(t, opt(cfg, dir, nil)); err != nil {
		t.Fatal(err)
	}
	for _, dry := range []bool{true, false} {
		_, _, err := run(t, opt(cfg, dir, func(o *Options) { o.Arch, o.DryRun = "x86_64", dry }))
		if err == nil || !strings.Contains(err.Error(), "aarch64") || cli.Code(err) != cli.ExitFailure || !strings.Contains(cli.Hint(err), "--force") {
			t.Fatalf("dry run %v: err = %v (hint %q)", dry, err, cli.Hint(err))
		}
	}
	if _, _, err := run(t, opt(cfg, dir, func(o *Options) { o.Arch, o.Force = "x86_64", true })); err != nil {
		t.Fatalf("--force: %v", err)
	}
	d, err := remote.Get(mustRepo(t, repo).Tag("latest"))
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := d.ImageIndex()
	m, _ := idx.IndexManifest()
	if len(m.Manifests) != 1 {
		t.Errorf("after --force latest has %d manifests", len(m.Manifests))
	}
}

// TestRepushSaysUnchanged: the second push of the same builds uploads nothing and says so; what a
// usual push prints on stderr fits 80 columns.
func TestRepushSaysUnchanged(t *testing.T) {
	dir, _, cfg := fixture(t, "gzip", "x86_64", "aarch64")
	_, first, err := run(t, opt(cfg, dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(first, "\n") {
		if len(l) > 80 {
			t.Errorf("%d columns: %q", len(l), l)
		}
	}
	last := lastLine(first)
	if !strings.HasPrefix(last, "uploaded 8 blobs (") || !strings.Contains(last, "iB), reused 0, 2 manifests, 1 index, 6 tags in ") {
		t.Errorf("first push ends with %q", last)
	}
	_, second, err := run(t, opt(cfg, dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	if last := lastLine(second); !strings.HasPrefix(last, "unchanged: ") || !strings.Contains(last, "(8 blobs reused)") {
		t.Errorf("re-push ends with %q", last)
	}
	// Nothing was written, so no line may say it was.
	if strings.Contains(second, "pushed") || !strings.Contains(second, "in place x86_64") {
		t.Errorf("re-push claims a write:\n%s", second)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestPushToPeersThatAreNotRegistries: a registry that accepts the connection and never answers,
// a closed port, and a web server that is not a registry each end the push quickly with one line
// and exit 4.
func TestPushToPeersThatAreNotRegistries(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "<html>\n<head><title>404 Not Found</title></head>\n<body>\n<h1>Not Found</h1>\n</body>\n</html>\n")
	}))
	defer web.Close()
	for name, host := range map[string]string{
		"silent":          testpeer.Silent(t),
		"silent, --force": testpeer.Silent(t), // no plan read: the upload meets the silence
		"closed":          testpeer.Refused(t),
		"web":             strings.TrimPrefix(web.URL, "http://"),
	} {
		t.Run(name, func(t *testing.T) {
			dir, _, cfg := fixture(t, "", "x86_64")
			cfg2 := func() (*config.Loaded, error) {
				l, _ := cfg()
				l.Config.Repo = host + "/o/n"
				return l, nil
			}
			start := time.Now()
			_, _, err := run(t, opt(cfg2, dir, func(o *Options) { o.Force = strings.HasSuffix(name, "--force") }))
			if err == nil || cli.Code(err) != cli.ExitUnavailable || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "html") || cli.Hint(err) == "" ||
				strings.Contains(err.Error(), "0 tries") {
				t.Fatalf("err = %q (exit %d, hint %q)", err, cli.Code(err), cli.Hint(err))
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %s", took)
			}
		})
	}
}

// TestPushDeadline: --timeout bounds the whole push, whatever each request does.
func TestPushDeadline(t *testing.T) {
	dir, _, cfg := fixture(t, "", "x86_64")
	cfg2 := func() (*config.Loaded, error) {
		l, _ := cfg()
		l.Config.Repo = testpeer.Silent(t) + "/o/n"
		return l, nil
	}
	_, _, err := run(t, opt(cfg2, dir, func(o *Options) {
		o.Timeout = 200 * time.Millisecond
		o.StallTimeout = time.Hour
	}))
	if err == nil || !strings.Contains(err.Error(), "did not finish within 200ms") || !strings.Contains(cli.Hint(err), "--timeout") {
		t.Fatalf("err = %v (hint %q)", err, cli.Hint(err))
	}
}

// TestPushTagsTheBuiltCommit: build at A, commit B, push. The push is refused (HEAD moved since
// the build); with --force it is tagged and annotated with A, never B. A build from a dirty tree
// (no revision recorded) is refused too.
func TestPushTagsTheBuiltCommit(t *testing.T) {
	git := testpeer.Binary(t, "git")
	src := t.TempDir()
	gitRun := func(args ...string) string {
		cmd := exec.Command(git, append([]string{"-C", src, "-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	gitRun("init", "-q", "-b", "main")
	gitRun("commit", "-q", "--allow-empty", "-m", "A")
	a := gitRun("rev-parse", "HEAD")
	gitRun("commit", "-q", "--allow-empty", "-m", "B")
	b := gitRun("rev-parse", "HEAD")

	dir, repo, cfg := fixture(t, "", "x86_64")
	setRevision(t, dir, "x86_64", a)
	noEnv := func(o *Options) { o.Getenv, o.WorkDir = func(string) string { return "" }, src }
	_, _, err := run(t, opt(cfg, dir, noEnv))
	if err == nil || !strings.Contains(err.Error(), "HEAD is "+b[:7]) || !strings.Contains(err.Error(), a[:7]) || !strings.Contains(cli.Hint(err), "--force") {
		t.Fatalf("HEAD moved: err = %v (hint %q)", err, cli.Hint(err))
	}
	if _, _, err := run(t, opt(cfg, dir, func(o *Options) { noEnv(o); o.Force = true })); err != nil {
		t.Fatal(err)
	}
	tags, _ := remote.List(mustRepo(t, repo))
	if !slices.Contains(tags, "main-"+a[:7]) || slices.Contains(tags, "main-"+b[:7]) {
		t.Errorf("tags %q: want main-%s, not main-%s", tags, a[:7], b[:7])
	}
	d, err := remote.Get(mustRepo(t, repo).Tag("main-" + a[:7]))
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := d.ImageIndex()
	m, _ := idx.IndexManifest()
	if got := m.Annotations["org.opencontainers.image.revision"]; got != a {
		t.Errorf("revision annotation %q, want %q", got, a)
	}

	setRevision(t, dir, "x86_64", "")
	_, _, err = run(t, opt(cfg, dir, noEnv))
	if err == nil || !strings.Contains(err.Error(), "uncommitted changes") {
		t.Fatalf("dirty build: err = %v", err)
	}
}

func setRevision(t *testing.T, dir string, a arch.Arch, rev string) {
	t.Helper()
	store := record.Store{Dir: dir}
	b, err := store.Latest(a)
	if err != nil {
		t.Fatal(err)
	}
	b.FlakeRevision = rev
	if err := store.Save(b); err != nil {
		t.Fatal(err)
	}
}

// TestGitHubActionsFoldsThePushIntoAGroup: under GitHub Actions the upload's lines sit in one
// ::group:: section, and the result lines follow it.
func TestGitHubActionsFoldsThePushIntoAGroup(t *testing.T) {
	dir, repo, cfg := fixture(t, "", "x86_64")
	ios, _, _, errOut := iostreams.Test()
	ios.SetGetenv(func(k string) string { return map[string]string{"GITHUB_ACTIONS": "true"}[k] })
	o := opt(cfg, dir, nil)
	o.IO = ios
	if err := pushRun(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	text := errOut.String()
	start, end := strings.Index(text, "::group::push to "+repo+"\n"), strings.Index(text, "::endgroup::\n")
	if start < 0 || end < start || !strings.Contains(text[end:], "pushed x86_64") {
		t.Errorf("stderr:\n%s", text)
	}
}

// TestPushOfARemoteFlakeComparesNothingLocal: a build of github:owner/repo is not compared with
// the working directory's HEAD (another project's); it is tagged with the commit nix built, on
// the branch GITHUB_REF_NAME names.
func TestPushOfARemoteFlakeComparesNothingLocal(t *testing.T) {
	git := testpeer.Binary(t, "git")
	here := t.TempDir()
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "C"}} {
		if out, err := exec.Command(git, append([]string{"-C", here}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	dir, repo, cfg := fixture(t, "", "x86_64")
	store := record.Store{Dir: dir}
	b, _ := store.Latest("x86_64")
	b.Flake = "github:owner/repo"
	if err := store.Save(b); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GITHUB_REF_NAME": "release"}
	if _, _, err := run(t, opt(cfg, dir, func(o *Options) { o.Getenv, o.WorkDir = func(k string) string { return env[k] }, here })); err != nil {
		t.Fatal(err)
	}
	tags, _ := remote.List(mustRepo(t, repo))
	if !slices.Contains(tags, "release-fedcba9") || slices.Contains(tags, "latest") {
		t.Errorf("tags %q: want release-fedcba9 (the built commit) and no latest", tags)
	}
}

// TestHostileRevisionsAndTags: what CI's environment says ends up in tags and annotations. A
// 300-character branch gives tags the registry (Debian's docker-registry, which checks the tag
// grammar) accepts; a branch with no tag characters gives no branch tags; a GITHUB_SHA or
// GITHUB_REF_NAME no git would give is refused before anything is read (exit 2), as is a --tag
// that --no-index would silently drop.
func TestHostileRevisionsAndTags(t *testing.T) {
	reg := testpeer.StartRegistry(t, "", "")
	dir, _, cfg := fixture(t, "", "x86_64")
	repo := reg.Addr() + "/o/n"
	cfg2 := func() (*config.Loaded, error) {
		l, _ := cfg()
		l.Config.Repo = repo
		return l, nil
	}
	withEnv := func(env map[string]string, more ...func(*Options)) *Options {
		return opt(cfg2, dir, func(o *Options) {
			o.Getenv = func(k string) string { return env[k] }
			for _, f := range more {
				f(o)
			}
		})
	}
	long := strings.Repeat("feature/", 40)
	if _, _, err := run(t, withEnv(map[string]string{"GITHUB_REF_NAME": long, "GITHUB_SHA": "fedcba9876543210"})); err != nil {
		t.Fatalf("300-character branch: %v", err)
	}
	tags, err := remote.List(mustRepo(t, repo))
	if err != nil || len(tags) != 2 {
		t.Fatalf("tags %q %v", tags, err)
	}
	for _, tag := range tags {
		if len(tag) > 128 || !strings.HasPrefix(tag, "feature-feature-") {
			t.Errorf("tag %q (%d characters)", tag, len(tag))
		}
	}

	_, _, err = run(t, withEnv(map[string]string{"GITHUB_REF_NAME": "日本", "GITHUB_SHA": "fedcba9876543210"}))
	if err == nil || !strings.Contains(err.Error(), "nothing to tag") {
		t.Errorf("branch without tag characters: %v", err)
	}
	for name, env := range map[string]map[string]string{
		"sha with a path":     {"GITHUB_REF_NAME": "main", "GITHUB_SHA": "../../etc/passwd"},
		"sha with a newline":  {"GITHUB_REF_NAME": "main", "GITHUB_SHA": "fedcba9\nx"},
		"branch with newline": {"GITHUB_REF_NAME": "main\nlatest", "GITHUB_SHA": "fedcba9876543210"},
	} {
		_, _, err := run(t, withEnv(env))
		if err == nil || cli.Code(err) != cli.ExitUsage || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %q (exit %d)", name, err, cli.Code(err))
		}
	}
	_, _, err = run(t, withEnv(ciEnv, func(o *Options) { o.NoIndex, o.Tags = true, []string{"v1"} }))
	if err == nil || cli.Code(err) != cli.ExitUsage {
		t.Errorf("--no-index --tag v1: %v (exit %d)", err, cli.Code(err))
	}
}

// TestTagNamingAnotherImageIsNotMoved: push --tag v1 at one commit, then the builds of another
// commit with --tag v1 again: latest and the branch tag move (that is what they are for), v1 is
// a release another push made and is refused (exit 1, the digest it names), unless --force.
func TestTagNamingAnotherImageIsNotMoved(t *testing.T) {
	dir, repo, cfg := fixture(t, "", "x86_64")
	v1 := func(o *Options) { o.Tags = []string{"v1"} }
	if _, _, err := run(t, opt(cfg, dir, v1)); err != nil {
		t.Fatal(err)
	}
	first, err := remote.Head(mustRepo(t, repo).Tag("v1"))
	if err != nil {
		t.Fatal(err)
	}
	// The same builds again: v1 already names this index, nothing to refuse.
	if _, _, err := run(t, opt(cfg, dir, v1)); err != nil {
		t.Fatalf("unchanged re-push with --tag v1: %v", err)
	}
	setRevision(t, dir, "x86_64", "abcdef0123456789")
	env := map[string]string{"GITHUB_REF_NAME": "main", "GITHUB_SHA": "abcdef0123456789", "GITHUB_ACTIONS": "true"}
	other := func(o *Options) { v1(o); o.Getenv = func(k string) string { return env[k] } }
	_, _, err = run(t, opt(cfg, dir, other))
	if err == nil || cli.Code(err) != cli.ExitFailure || !strings.Contains(err.Error(), ":v1 names "+first.Digest.String()[:19]) || !strings.Contains(cli.Hint(err), "--force") {
		t.Fatalf("moving v1: %v (exit %d, hint %q)", err, cli.Code(err), cli.Hint(err))
	}
	if d, _ := remote.Head(mustRepo(t, repo).Tag("v1")); d == nil || d.Digest != first.Digest {
		t.Errorf("v1 moved to %v although refused", d)
	}
	if _, _, err := run(t, opt(cfg, dir, func(o *Options) { other(o); o.Force = true })); err != nil {
		t.Fatal(err)
	}
	if d, _ := remote.Head(mustRepo(t, repo).Tag("v1")); d == nil || d.Digest == first.Digest {
		t.Errorf("--force left v1 on %v", d)
	}
}
