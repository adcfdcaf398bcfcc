package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/build"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/nix"
	"github.com/nixify/nixify/internal/record"
)

// planJSONOf runs `build --plan -o json` and returns its one architecture's plan.
func planJSONOf(t *testing.T, opts *Options) jsonPlan {
	t.Helper()
	io, _, out, _ := iostreams.Test()
	io.Format = iostreams.JSON
	p := *opts
	p.IO, p.Plan = io, true
	if err := buildRun(context.Background(), &p); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Plans []jsonPlan `json:"plans"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got.Plans) != 1 {
		t.Fatalf("%v: %s", err, out)
	}
	// One JSON vocabulary (README): an architecture is "architecture", in OCI's spelling.
	if a := got.Plans[0].Architecture; a != "amd64" && a != "arm64" {
		t.Fatalf("plan architecture %q, want OCI's name: %s", a, out)
	}
	return got.Plans[0]
}

func names[T any](xs []T, name func(T) string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, name(x))
	}
	return out
}

func stepName(s jsonStep) string   { return s.Name }
func fetchName(f jsonFetch) string { return f.Name }

// flakeDir is the test flake's directory of opts.
func flakeDir(t *testing.T, opts *Options) string {
	l, err := opts.Config()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(l.Config.Flake, "path:")
}

// TestPlanShowsOnlyWhatIsNotBuilt: with the image built by plain nix, the plan of the stream
// script (which needs the image) builds the script alone, and says it is new to nixify.
func TestPlanShowsOnlyWhatIsNotBuilt(t *testing.T) {
	opts, _, _, _ := testOptions(t, "stream")
	before := planJSONOf(t, opts)
	if got := names(before.Build, stepName); fmt.Sprint(got) != "[test-image-amd64.tar stream-test-image-amd64]" || len(before.Fetch) != 0 {
		t.Fatalf("before any build: %+v", before)
	}
	n, _ := opts.Nix()
	if _, err := n.Build(context.Background(), "path:"+flakeDir(t, opts)+"#packages.x86_64-linux.image", nil); err != nil {
		t.Fatal(err)
	}
	p := planJSONOf(t, opts)
	if got := names(p.Build, stepName); fmt.Sprint(got) != "[stream-test-image-amd64]" || p.Build[0].LastSeconds != nil || p.NewBuilds != 1 ||
		!strings.HasSuffix(p.Build[0].DrvPath, "-stream-test-image-amd64.drv") || len(p.Fetch) != 0 || p.Strategy != "native" {
		t.Fatalf("after building the image: %+v", p)
	}

	// The text: the derivation, "new", and nothing of the image already built.
	io, _, out, _ := iostreams.Test()
	text := *opts
	text.IO, text.Plan = io, true
	if err := buildRun(context.Background(), &text); err != nil {
		t.Fatal(err)
	}
	if o := out.String(); !regexp.MustCompile(`(?m)^DO +NAME +LAST TIME +DOWNLOAD +UNPACKED$`).MatchString(o) ||
		!regexp.MustCompile(`(?m)^build +stream-test-image-amd64 +new$`).MatchString(o) || strings.Contains(o, "test-image-amd64.tar") ||
		!strings.Contains(o, "x86_64: native build") {
		t.Fatalf("plan text:\n%s", o)
	}
}

// TestPlanShowsLastBuildTimes: a derivation nixify built before carries its time; the total adds
// the times seen and counts the new ones. The plan itself builds nothing.
func TestPlanShowsLastBuildTimes(t *testing.T) {
	opts, _, _, _ := testOptions(t, "image")
	if err := buildRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(flakeDir(t, opts), "nonce"), []byte(fmt.Sprint("again", time.Now().UnixNano())), 0o644)
	stream := *opts
	stream.Config = staticConfigFrom(t, opts, "stream")
	p := planJSONOf(t, &stream)
	if len(p.Build) != 2 || p.Build[0].Name != "test-image-amd64.tar" || p.Build[0].LastSeconds == nil || *p.Build[0].LastSeconds <= 0 ||
		p.Build[1].LastSeconds != nil || p.NewBuilds != 1 || p.SeenSeconds != *p.Build[0].LastSeconds {
		t.Fatalf("%+v", p)
	}
	again := planJSONOf(t, &stream)
	if len(again.Build) != 2 {
		t.Fatalf("the plan built something: %+v", again)
	}
}

// staticConfigFrom is opts' configuration with another attribute.
func staticConfigFrom(t *testing.T, opts *Options, attr string) func() (*config.Loaded, error) {
	l, err := opts.Config()
	if err != nil {
		t.Fatal(err)
	}
	c := *l
	c.Config.Attr = attr
	return func() (*config.Loaded, error) { return &c, nil }
}

// TestPlanFetchesFromABinaryCache: an image built, copied to a local binary cache and deleted
// from the store is fetched, with the sizes the cache gives (the second one nix is configured
// with: the first lacks it); the script on top is built.
func TestPlanFetchesFromABinaryCache(t *testing.T) {
	opts, _, _, _ := testOptions(t, "stream")
	n, _ := opts.Nix()
	ctx := context.Background()
	res, err := n.Build(ctx, "path:"+flakeDir(t, opts)+"#packages.x86_64-linux.image", nil)
	if err != nil {
		t.Fatal(err)
	}
	img := res.Outputs["out"]
	cache := "file://" + t.TempDir()
	for _, args := range [][]string{{"copy", "--to", cache, img}, {"store", "delete", img}} {
		if out, err := n.Command(ctx, args...).CombinedOutput(); err != nil {
			t.Fatalf("nix %v: %v: %s", args, err, out)
		}
	}
	withCache := *n
	withCache.Env = []string{"NIX_CONFIG=experimental-features = nix-command flakes\nsubstituters = file://" + t.TempDir() + " " + cache + "\nrequire-sigs = false\nsandbox = false\nbuild-users-group ="}
	o := *opts
	o.Nix = func() (*nix.Nix, error) { return &withCache, nil }
	p := planJSONOf(t, &o)
	if fmt.Sprint(names(p.Build, stepName)) != "[stream-test-image-amd64]" || fmt.Sprint(names(p.Fetch, fetchName)) != "[test-image-amd64.tar]" {
		t.Fatalf("%+v", p)
	}
	f := p.Fetch[0]
	if f.Path != img || f.Cache != cache || f.DownloadBytes <= 0 || f.UnpackedBytes <= 0 || p.DownloadBytes != f.DownloadBytes ||
		p.UnpackedBytes != f.UnpackedBytes || p.SizesError != "" {
		t.Fatalf("fetch: %+v (plan %+v)", f, p)
	}
}

// TestPlanTextFitsEightyColumns: long store names are shortened on a terminal, and every line of
// a plan with builds, fetches and a total fits 80 columns.
func TestPlanTextFitsEightyColumns(t *testing.T) {
	io, _, out, _ := iostreams.Test()
	io.SetTTY(true)
	io.SetWidth(80)
	long := "rust-std-1.86.0-aarch64-unknown-linux-musl-with-a-very-long-suffix"
	pv := build.Preview{
		Plan: build.Plan{Arch: arch.X86_64, Reason: "native build on this x86_64-linux host"},
		Build: []build.Step{
			{Drv: "/nix/store/w9wjpgsiwxjv9p6166ax2mns747lmv2c-" + long + ".drv", Name: long, New: true},
			{Drv: "/nix/store/w9wjpgsiwxjv9p6166ax2mns747lmv2c-redis-7.2.4.drv", Name: "redis-7.2.4", Last: 754 * time.Second},
		},
		Fetch:         []build.Fetch{{Path: "/nix/store/fsn35pc8njnimgn2sn26dlsyxya1wssb-" + long, Name: long, DownloadBytes: 123 << 20, UnpackedBytes: 1000 << 20}},
		DownloadBytes: 123 << 20, UnpackedBytes: 1000 << 20, Seen: 754 * time.Second, New: 1,
	}
	if err := reportPlan(io, []build.Preview{pv}); err != nil {
		t.Fatal(err)
	}
	o := out.String()
	for _, l := range strings.Split(strings.TrimRight(o, "\n"), "\n") {
		if w := lipgloss.Width(l); w > 80 {
			t.Errorf("%d columns: %q", w, l)
		}
	}
	for _, want := range []string{"redis-7.2.4", "12m34s", "rust-std-1.86.0-aarch64", "…", "~12m34s + 1 new", "123 MiB", "1000 MiB"} {
		if !strings.Contains(o, want) {
			t.Errorf("lacks %q:\n%s", want, o)
		}
	}
}

// TestResultTableFitsEightyColumns: the table after a build names each output as nix names store
// paths in its progress, so that a two-architecture result fits 80 columns (issue 23).
func TestResultTableFitsEightyColumns(t *testing.T) {
	io, _, out, _ := iostreams.Test()
	io.SetTTY(true)
	var results []build.Result
	for _, r := range []struct {
		a        arch.Arch
		strategy build.Strategy
		out      string
	}{
		{arch.X86_64, build.Native, "/nix/store/fsn35pc8njnimgn2sn26dlsyxya1wssb-nixify-health-check.tar.gz"},
		{arch.AArch64, build.Emulated, "/nix/store/w9wjpgsiwxjv9p6166ax2mns747lmv2c-stream-nixify-health-check"},
	} {
		results = append(results, build.Result{Plan: build.Plan{Arch: r.a, Strategy: r.strategy}, Record: record.Build{
			Arch: r.a, OutPath: r.out, Kind: record.Tarball, ConfigDigest: "sha256:5f641fd8cdb1e0c2a7c3d0d5a1f0e0b6d6c0f7f1b2b3c4d5e6f708192a3b4c5d",
			Size: 53_700_000, Duration: 754 * time.Second,
		}})
	}
	if err := report(io, results); err != nil {
		t.Fatal(err)
	}
	o := out.String()
	for _, l := range strings.Split(strings.TrimRight(o, "\n"), "\n") {
		if w := lipgloss.Width(l); w > 80 {
			t.Errorf("%d columns: %q", w, l)
		}
	}
	for _, want := range []string{"nixify-health-check.tar.gz", "stream-nixify-health-check", "5f641fd8cdb1", "emulated"} {
		if !strings.Contains(o, want) {
			t.Errorf("lacks %q:\n%s", want, o)
		}
	}
}

// TestWarningsWrapOnATerminalAndStayOneLinePiped: the plan's warnings and the live view's
// "gave up fetching" and nix warning lines wrap between words on a terminal 60 columns wide,
// under their text, and are one line each when piped.
func TestWarningsWrapOnATerminalAndStayOneLinePiped(t *testing.T) {
	url := "https://example.org/a/rather/long/path/to/the/flake-input-source-1.2.3.tar.gz"
	events := []string{
		`@nix {"action":"msg","level":1,"msg":"warning: unable to download '` + url + `': Couldn't connect to server (7); retrying in 275 ms"}`,
		`@nix {"action":"start","id":8,"level":4,"text":"downloading '` + url + `'","type":101,"fields":["` + url + `"]}`,
		`@nix {"action":"stop","id":8}`,
		`@nix {"action":"msg","level":1,"msg":"warning: Git tree '/home/someone/src/project' is dirty, so the build uses the files as they are now"}`,
	}
	for _, tty := range []bool{false, true} {
		io, _, _, errOut := iostreams.Test()
		io.SetTTY(tty)
		io.DisableColor()
		io.SetWidth(60)
		pv := build.Preview{Plan: build.Plan{Arch: arch.X86_64, Reason: "native build"}, Unknown: []string{"/nix/store/w9wjpgsiwxjv9p6166ax2mns747lmv2c-x.drv"},
			SizesErr: errors.New("the binary cache https://cache.example.org answered 503 Service Unavailable for every narinfo")}
		if err := reportPlan(io, []build.Preview{pv}); err != nil {
			t.Fatal(err)
		}
		v := newView(io, nil, nil)
		for _, l := range events {
			e, err := nix.ParseLine([]byte(l))
			if err != nil {
				t.Fatal(err)
			}
			v.handle(&e)
		}
		v.stop()
		got := nix.StripANSI(errOut.String())
		// The paragraphs, their lines joined again, as a reader reads them.
		joined := regexp.MustCompile(`\n {2,}`).ReplaceAllString(got, " ")
		for _, want := range []string{
			"warning: x86_64: no size per path (the binary cache https://cache.example.org answered 503 Service Unavailable for every narinfo); the totals are nix's\n",
			"warning: x86_64: nix can neither build nor fetch 1 path: the build will fail\n",
			"· gave up fetching " + url + " (0s) after 1 retry: Couldn't connect to server (7)\n",
			"warning: Git tree '/home/someone/src/project' is dirty, so the build uses the files as they are now\n",
		} {
			if !strings.Contains(joined, want) {
				t.Errorf("tty %v: lacks %q:\n%s", tty, want, got)
			}
		}
		for _, l := range strings.Split(got, "\n") {
			if w := lipgloss.Width(l); tty && w > 60 && !strings.Contains(l, url) {
				t.Errorf("a line of %d columns on a 60-column terminal: %q", w, l)
			}
		}
		if lines := strings.Count(got, "\n"); tty && lines <= 6 || !tty && lines != 6 {
			t.Errorf("tty %v: %d lines:\n%s", tty, lines, got)
		}
	}
}
