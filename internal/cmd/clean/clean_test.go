package clean

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/record"
)

func TestResultListsEverythingAndDryRunSaysWouldRemove(t *testing.T) {
	plan := container.CleanPlan{
		Containers: []engine.Container{{Name: "c"}},
		Images:     []string{"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		Volumes:    []engine.Volume{{Name: "v"}},
	}
	res := resultOf(plan, &Options{DryRun: true, All: true})
	io, _, out, _ := iostreams.Test()
	if err := printResult(io, res, ".nixify"); err != nil {
		t.Fatal(err)
	}
	// Image IDs as docker prints them: 12 hex digits (the JSON has them whole).
	want := "would remove:\ncontainer\tc\nimage\t0123456789ab\nvolume\tv\nbuild records\t.nixify (and the result-* links)\n"
	if out.String() != want {
		t.Fatalf("got %q\nwant %q", out.String(), want)
	}
}

func TestNothingToRemoveAndEmptyListsInJSON(t *testing.T) {
	res := resultOf(container.CleanPlan{}, &Options{})
	io, _, out, _ := iostreams.Test()
	printResult(io, res, ".nixify")
	if out.String() != "nothing of nixify's to remove\n" {
		t.Fatalf("got %q", out.String())
	}
	io, _, out, _ = iostreams.Test()
	io.Format = iostreams.JSON
	printResult(io, res, ".nixify")
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"containers", "images", "volumes", "kept"} {
		if l, ok := m[k].([]any); !ok || len(l) != 0 {
			t.Errorf("%s = %v, want []", k, m[k])
		}
	}
}

func TestVolumesNeedATerminalOrYes(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	_, err := confirm(io, []string{"v"})
	var ee *cli.ExitError
	if !errors.As(err, &ee) || ee.Code != cli.ExitUsage || !strings.Contains(err.Error(), "pass --yes") {
		t.Fatalf("without a terminal: %v", err)
	}
	io, in, _, _ := iostreams.Test()
	io.SetTTY(true)
	in.WriteString("yes\n")
	if ok, err := confirm(io, []string{"v"}); !ok || err != nil {
		t.Fatalf("answer yes: %v %v", ok, err)
	}
	io, in, _, _ = iostreams.Test()
	io.SetTTY(true)
	in.WriteString("\n")
	if ok, _ := confirm(io, []string{"v"}); ok {
		t.Fatal("an empty answer removed the volumes")
	}
}

func TestKeptImagesSayWhichContainerHoldsThem(t *testing.T) {
	res := resultOf(container.CleanPlan{Kept: []container.KeptImage{{ID: "sha256:bb", UsedBy: []string{"web", "db"}}}}, &Options{})
	io, _, out, _ := iostreams.Test()
	if err := printResult(io, res, ".nixify"); err != nil {
		t.Fatal(err)
	}
	if want := "removed:\nkept image\tsha256:bb (used by web, db)\n"; out.String() != want {
		t.Fatalf("got %q\nwant %q", out.String(), want)
	}
}

// TestAllRemovesTheResultLinks (issue 23): clean --all left the result-<arch> links that keep the
// last builds in the Nix store; and with nothing in the state directory it promised to remove
// "build records" all the same.
func TestAllRemovesTheResultLinks(t *testing.T) {
	dir := t.TempDir()
	if got := stateFiles(dir); len(got) != 0 {
		t.Fatalf("empty state directory: %v", got)
	}
	os.WriteFile(filepath.Join(dir, "builds.json"), []byte(`{"builds":{}}`), 0o644)
	for _, a := range []string{"x86_64", "aarch64"} {
		if err := os.Symlink("/nix/store/0000-nixify-image-"+a, filepath.Join(dir, "result-"+a)); err != nil {
			t.Fatal(err)
		}
	}
	if got := stateFiles(dir); len(got) != 3 {
		t.Fatalf("state files %v, want builds.json and two links", got)
	}
	if err := apply(context.Background(), nil, container.CleanPlan{}, record.Store{Dir: dir}, true); err != nil {
		t.Fatal(err)
	}
	if got := stateFiles(dir); len(got) != 0 {
		t.Fatalf("left after clean --all: %v", got)
	}
}
