package build

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/build/buildtest"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cli/clitest"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/nix"
	"github.com/nixify/nixify/internal/record"
	"github.com/nixify/nixify/internal/testpeer"
)

func TestFlagsAndArchAliases(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
		code int
	}{
		{[]string{"--arch", "arm64"}, []string{"aarch64"}, 0},
		{[]string{"--arch", "amd64"}, []string{"x86_64"}, 0},
		{[]string{"--arch", "all"}, []string{"x86_64", "aarch64"}, 0},
		{[]string{"--arch", "amd64,aarch64-linux"}, []string{"x86_64", "aarch64"}, 0},
		{[]string{"--arch", "mips"}, nil, cli.ExitUsage},
	} {
		io, _, _, _ := iostreams.Test()
		f := clitest.Factory(t, io)
		var got *Options
		err := clitest.Execute(NewCmdBuild(f, func(o *Options) error { got = o; return nil }), tc.args...)
		var archs []arch.Arch
		if err == nil {
			archs, err = Archs(got.Arch, arch.All)
		}
		if cli.Code(err) != tc.code || fmt.Sprint(archs) != fmt.Sprint(tc.want) {
			t.Errorf("%v: %v %v", tc.args, archs, err)
		}
		if err != nil && !strings.Contains(err.Error(), `unknown architecture "mips": accepted: x86_64 (alias amd64), aarch64 (alias arm64), a comma list of them, or all`) {
			t.Errorf("error does not say what is accepted: %v", err)
		}
	}
}

func TestFlakeAndAttrFlagsOverrideConfig(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	f := clitest.Factory(t, io)
	cmd := NewCmdBuild(f, func(o *Options) error { return nil })
	cmd.SetArgs([]string{"--flake", "github:o/r", "--attr", "other"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	l, err := f.Config()
	if err != nil || l.Config.Flake != "github:o/r" || l.Config.Attr != "other" {
		t.Fatalf("%+v %v", l, err)
	}
}

func TestNixMissingSaysHowToInstall(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	opts := &Options{IO: io, Config: staticConfig(t, "path:/nonexistent", "image"), Nix: func() (*nix.Nix, error) { return nil, nix.ErrNotInstalled }}
	err := buildRun(context.Background(), opts)
	if cli.Code(err) != cli.ExitUnavailable || !strings.Contains(cli.Hint(err), "apt-get install nix-bin") {
		t.Fatalf("got %v (hint %q)", err, cli.Hint(err))
	}
}

func staticConfig(t *testing.T, flake, attr string) func() (*config.Loaded, error) {
	state := t.TempDir()
	return func() (*config.Loaded, error) {
		return &config.Loaded{Config: config.Config{Flake: flake, Attr: attr, StateDir: state, Architectures: arch.All}}, nil
	}
}

// testOptions runs the command against the real nix and the build package's test flake.
func testOptions(t *testing.T, attr string) (*Options, *iostreams.IOStreams, func() string, func() string) {
	t.Helper()
	p := testpeer.Binary(t, "nix")
	if !strings.HasPrefix(fmt.Sprint(Archs("", nil)), "[x86_64]") {
		t.Skip("skipping: the test flake is written for an x86_64-linux host")
	}
	dir := t.TempDir()
	for _, f := range []string{"flake.nix", "build-archive.sh"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "build", "testdata", "flake", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), data, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "nonce"), []byte(fmt.Sprint(t.Name(), time.Now().UnixNano())), 0o644)
	io, _, out, errOut := iostreams.Test()
	n := &nix.Nix{Path: p, Env: []string{"NIX_CONFIG=experimental-features = nix-command flakes\nsubstituters =\nsandbox = false\nbuild-users-group ="}}
	opts := &Options{IO: io, Config: staticConfig(t, "path:"+dir, attr), Nix: func() (*nix.Nix, error) { return n, nil }}
	return opts, io, out.String, errOut.String
}

func TestBuildPrintsPlainLinesAndJSON(t *testing.T) {
	opts, io, out, errOut := testOptions(t, "image")
	io.Format = iostreams.JSON
	if err := buildRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Builds []struct {
			Architecture, Strategy, Kind, ConfigDigest, OutPath string
		} `json:"builds"`
	}
	if err := json.Unmarshal([]byte(out()), &got); err != nil || len(got.Builds) != 1 {
		t.Fatalf("%v %s", err, out())
	}
	b := got.Builds[0]
	if b.Architecture != "amd64" || b.Strategy != "native" || b.Kind != "tarball" || !strings.HasPrefix(b.ConfigDigest, "sha256:") {
		t.Fatalf("%+v", b)
	}
	e := errOut()
	for _, want := range []string{"x86_64: native build", "building test-image-amd64.tar", "✓ built test-image-amd64.tar"} {
		if !strings.Contains(e, want) {
			t.Errorf("stderr lacks %q:\n%s", want, e)
		}
	}
	if strings.Contains(e, "\x1b[") {
		t.Errorf("escape codes without a terminal:\n%q", e)
	}
	// The next build shows this one's time as an estimate.
	l, _ := opts.Config()
	if d, ok := (record.Store{Dir: l.Config.StateDir}).Times()["test-image-amd64.tar"]; !ok || d <= 0 {
		t.Errorf("the build time of test-image-amd64.tar was not kept: %v", (record.Store{Dir: l.Config.StateDir}).Times())
	}
	n, _ := opts.Nix()
	dir := strings.TrimPrefix(l.Config.Flake, "path:")
	os.WriteFile(filepath.Join(dir, "nonce"), []byte(fmt.Sprint("again", time.Now().UnixNano())), 0o644)
	io2, _, _, errOut2 := iostreams.Test()
	again := &Options{IO: io2, Config: opts.Config, Nix: func() (*nix.Nix, error) { return n, nil }}
	if err := buildRun(context.Background(), again); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut2.String(), "building test-image-amd64.tar (") || !strings.Contains(errOut2.String(), " last time)") {
		t.Errorf("the rebuild does not show the last build's time:\n%s", errOut2)
	}
}

func TestFailedBuildShowsItsLastLinesWithoutColour(t *testing.T) {
	opts, _, _, errOut := testOptions(t, "broken")
	err := buildRun(context.Background(), opts)
	if cli.Code(err) != cli.ExitFailure || !strings.Contains(err.Error(), "failed with exit code 2") {
		t.Fatalf("got %v", err)
	}
	e := errOut()
	if !strings.Contains(e, "last 30 log lines of broken.drv:") || !strings.Contains(e, "  broken line 1\n") ||
		!strings.Contains(e, "  broken line 30\n") || strings.Contains(e, "\x1b") || !strings.Contains(e, "✗ failed broken") {
		t.Fatalf("stderr:\n%q", e)
	}
}

func TestVerboseStreamsEveryLogLine(t *testing.T) {
	opts, io, _, errOut := testOptions(t, "broken")
	io.Verbose = true
	_ = buildRun(context.Background(), opts)
	if n := strings.Count(errOut(), "broken> broken line"); n != 30 {
		t.Fatalf("%d streamed log lines, want 30:\n%s", n, errOut())
	}
}

func TestRenderShowsRunningBuildsAndCounts(t *testing.T) {
	now := time.Unix(100, 0)
	s := nix.Status{
		Running: []nix.Activity{
			{Type: nix.ActBuild, Name: "redis-7.2", Phase: "buildPhase", LastLine: "CC server.o", Started: now.Add(-75 * time.Second)},
			{Type: nix.ActFileTransfer, Name: "https://cache/x.nar", Done: 1 << 20, Expected: 4 << 20, Started: now.Add(-2 * time.Second)},
		},
		BuildsDone: 3, BuildsExpected: 10, BuildsRunning: 1, CopiesDone: 1, CopiesExpected: 5, BytesDone: 1 << 20, BytesExpected: 4 << 20,
	}
	io, _, _, _ := iostreams.Test()
	f := frame{Status: s, Now: now, Began: now.Add(-95 * time.Second), Spinner: "*", Estimates: record.Times{"redis-7.2": 130 * time.Second}}
	got := strings.Join(Render(f, io.Styles()), "\n")
	want := "* redis-7.2 1m15s/~2m10s buildPhase │ CC server.o\n↓ https://cache/x.nar 2s 1 MiB/4 MiB\n1m35s · builds 3/10, 1 running · downloads 1/5 · 1 MiB/4 MiB"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if Render(frame{Now: now, Spinner: "*"}, io.Styles()) != nil {
		t.Fatal("an empty status should draw nothing")
	}
}

// TestStoppedTransferWithoutBytesIsNotFetched: Nix stops a download activity whether it worked or
// not; one that moved no byte must not be shown as fetched.
func TestStoppedTransferWithoutBytesIsNotFetched(t *testing.T) {
	lines := []string{
		`@nix {"action":"start","id":7,"level":4,"text":"downloading 'https://x/ok.tar'","type":101,"fields":["https://x/ok.tar"]}`,
		`@nix {"action":"result","id":7,"type":105,"fields":[512,1024,0,0]}`,
		`@nix {"action":"stop","id":7}`,
		`@nix {"action":"start","id":8,"level":4,"text":"downloading 'https://x/gone.tar'","type":101,"fields":["https://x/gone.tar"]}`,
		`@nix {"action":"stop","id":8}`,
	}
	io, _, _, errOut := iostreams.Test()
	v := newView(io, nil, nil)
	for _, l := range lines {
		e, err := nix.ParseLine([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		v.handle(&e)
	}
	v.stop()
	got := errOut.String()
	if !strings.Contains(got, "✓ fetched https://x/ok.tar") || !strings.Contains(got, "· gave up fetching https://x/gone.tar") {
		t.Fatalf("stderr:\n%s", got)
	}
}

// TestInterruptIsExit130AndNotBuilt: Ctrl-C is exit 130, and the derivation whose build it
// stopped has no output, so it must not scroll by as "✓ built".
func TestInterruptIsExit130AndNotBuilt(t *testing.T) {
	opts, _, _, errOut := testOptions(t, "slow")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(2*time.Second, cancel)
	err := buildRun(ctx, opts)
	if cli.Code(err) != cli.ExitInterrupted {
		t.Fatalf("got %v (code %d)", err, cli.Code(err))
	}
	e := errOut()
	if !strings.Contains(e, "building slow") {
		t.Fatalf("the build had not started when it was interrupted:\n%s", e)
	}
	if strings.Contains(e, "built slow") {
		t.Fatalf("an interrupted build is shown as built:\n%s", e)
	}
	if err.Error() != "interrupted" {
		t.Fatalf("Ctrl-C says %q, want only \"interrupted\"", err)
	}
}

// TestUnreachableInputFoldsRetriesAndEndsWithAHint: nix retries a download that cannot succeed
// and warns at each attempt; the view says so once, and the failure says what nix needs.
func TestUnreachableInputFoldsRetriesAndEndsWithAHint(t *testing.T) {
	opts, _, _, errOut := testOptions(t, "image")
	dir := t.TempDir()
	url := fmt.Sprintf("http://127.0.0.1:%d/dep.tar.gz", testpeer.FreePort(t)) // nothing listens there
	flake := `{
  inputs.dep = { url = "` + url + `"; flake = false; };
  outputs = { self, dep }: { packages.x86_64-linux.image = derivation { name = "x"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo > $out" ]; src = dep; }; };
}`
	if err := os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(flake), 0o644); err != nil {
		t.Fatal(err)
	}
	opts.Config = staticConfig(t, "path:"+dir, "image")
	n, _ := opts.Nix()
	n.Env = []string{n.Env[0] + "\ndownload-attempts = 4"}
	err := buildRun(context.Background(), opts)
	if cli.Code(err) != cli.ExitFailure {
		t.Fatalf("got %v (code %d)", err, cli.Code(err))
	}
	e := errOut()
	if n := strings.Count(e, "retrying"); n != 1 {
		t.Errorf("%d lines say nix is retrying, want 1:\n%s", n, e)
	}
	if !strings.Contains(e, "gave up fetching "+url) || !strings.Contains(e, "after 3 retries") {
		t.Errorf("the end of the download does not count its retries:\n%s", e)
	}
	if strings.Contains(e, "--show-trace") {
		t.Errorf("nix's --show-trace advice shown without --verbose:\n%s", e)
	}
	h := cli.Hint(err)
	for _, want := range []string{"network access", url, "https_proxy"} {
		if !strings.Contains(h, want) {
			t.Errorf("hint %q lacks %q", h, want)
		}
	}
}

func TestGitHubActionsFoldsTheBuildIntoAGroup(t *testing.T) {
	opts, io, _, errOut := testOptions(t, "image")
	io.SetGetenv(func(k string) string { return map[string]string{"GITHUB_ACTIONS": "true", "CI": "true"}[k] })
	if err := buildRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	e := errOut()
	start, built, end := strings.Index(e, "::group::nix build x86_64\n"), strings.Index(e, "✓ built test-image-amd64.tar"), strings.Index(e, "::endgroup::\n")
	if start != 0 || built < start || end < built {
		t.Fatalf("the build's lines are not inside one group:\n%s", e)
	}
}

// TestRunningBuildsShowWhatWaitsOnThem builds, with real nix, an image that waits on two slow
// derivations building at once: the block shows them under it.
func TestRunningBuildsShowWhatWaitsOnThem(t *testing.T) {
	opts, io, _, errOut := testOptions(t, "image")
	io.SetTTY(true)
	io.DisableColor()
	dir := t.TempDir()
	slow := func(name string) string {
		return `derivation { name = "` + name + `"; system = "x86_64-linux"; builder = "/bin/sh"; nonce = builtins.readFile ./nonce; args = [ "-c" "echo working; /bin/sleep 2; echo > $out" ]; }`
	}
	flake := `{ outputs = { self }: { packages.x86_64-linux.image = derivation {
    name = "top-image"; system = "x86_64-linux"; builder = "/bin/sh"; a = ` + slow("dep-a") + `; b = ` + slow("dep-b") + `;
    args = [ "-c" "echo > $out" ]; }; }; }`
	os.WriteFile(filepath.Join(dir, "flake.nix"), []byte(flake), 0o644)
	os.WriteFile(filepath.Join(dir, "nonce"), []byte(fmt.Sprint(time.Now().UnixNano())), 0o644)
	opts.Config = staticConfig(t, "path:"+dir, "image")
	n, _ := opts.Nix()
	n.Env = []string{n.Env[0] + "\nmax-jobs = 2"}
	_ = buildRun(context.Background(), opts) // the image is not a docker-archive: only the view matters
	// Any spinner frame will do.
	e := strings.Map(func(r rune) rune {
		if strings.ContainsRune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏", r) {
			return '-'
		}
		return r
	}, errOut())
	for _, want := range []string{"◌ top-image waits on 2 builds", "\n  - dep-a ", "\n  - dep-b "} {
		if !strings.Contains(e, want) {
			t.Errorf("the block never showed %q:\n%s", want, e[max(0, len(e)-3000):])
		}
	}
}

// TestMultiLineNixErrorIsOneWholeLine: a version file ending in a newline puts the newline in a
// store path's name; nix's error about it spans three lines, and all of it makes the one line.
func TestMultiLineNixErrorIsOneWholeLine(t *testing.T) {
	opts, _, _, _ := testOptions(t, buildtest.App)
	ref, dir := buildtest.Flake(t)
	if err := os.WriteFile(filepath.Join(dir, "version"), []byte("1.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts.Config = staticConfig(t, ref, buildtest.App)
	err := buildRun(context.Background(), opts)
	msg := err.Error()
	if cli.Code(err) != cli.ExitFailure || !strings.Contains(msg, `-libfoo-1.1\n.tar' contains illegal character '\n'`) ||
		strings.ContainsAny(msg, "\n\x1b") {
		t.Fatalf("got %q (code %d)", msg, cli.Code(err))
	}
}
