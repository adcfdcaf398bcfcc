package info

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cli/clitest"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/image/imagetest"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/record"
)

func TestInfoLastBuildJSONAndTerminal(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.tar.zst")
	w, err := imagetest.WriteFile(p, imagetest.Spec{Arch: "amd64", Layers: 2, Compress: "zstd"})
	if err != nil {
		t.Fatal(err)
	}
	if err := (record.Store{Dir: dir}).Save(record.Build{Arch: "x86_64", OutPath: p, Kind: record.Tarball}); err != nil {
		t.Fatal(err)
	}
	cfg := func() (*config.Loaded, error) {
		return &config.Loaded{Config: config.Config{StateDir: dir, Architectures: arch.All}}, nil
	}
	io, _, out, _ := iostreams.Test()
	io.Format = iostreams.JSON
	if err := infoRun(context.Background(), &Options{IO: io, Config: cfg, Arch: "amd64"}); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Images []struct {
			ConfigDigest string `json:"configDigest"`
			FiledUnder   string `json:"filedUnder"`
			Layers       []struct {
				StorePaths []string `json:"storePaths"`
			} `json:"layers"`
			Warnings []string `json:"warnings"`
		} `json:"images"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(rep.Images) != 1 || rep.Images[0].ConfigDigest != w.ConfigDigest || rep.Images[0].FiledUnder != "x86_64" || rep.Images[0].Layers[1].StorePaths[0] != w.StorePaths[1] {
		t.Errorf("json = %s", out)
	}

	io, _, out, _ = iostreams.Test()
	io.SetTTY(true)
	if err := infoRun(context.Background(), &Options{IO: io, Config: cfg, Source: p}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"linux/amd64", short(w.ConfigDigest), "reproducible default", "█", "missing OCI labels", shortStorePath(w.StorePaths[0])} {
		if !strings.Contains(text, want) {
			t.Errorf("text view lacks %q:\n%s", want, text)
		}
	}
	// The layer table fits 80 columns, and its header is followed by the first layer (a padded
	// header once wrapped into a blank line).
	lines := strings.Split(ansi.Strip(text), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "#  SIZE") && !strings.HasPrefix(lines[i+1], "1  ") {
			t.Errorf("the layer table's header is followed by %q", lines[i+1])
		}
		if strings.Contains(l, "█") && lipgloss.Width(l) > 80 {
			t.Errorf("layer row wider than 80 columns: %q", l)
		}
	}
}

func TestInfoBadInput(t *testing.T) {
	dir := t.TempDir()
	cfg := func() (*config.Loaded, error) {
		return &config.Loaded{Config: config.Config{StateDir: dir, Architectures: []arch.Arch{arch.X86_64}}}, nil
	}
	io, _, _, _ := iostreams.Test()
	for _, o := range []Options{{Arch: "sparc"}, {}, {Source: "/etc/hostname"}} {
		o.IO, o.Config = io, cfg
		err := infoRun(context.Background(), &o)
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: err = %v", o, err)
		}
	}
}

// TestInfoNeverRunsTheFileItReads: an executable "archive" starting with #! is refused with one
// line (exit 2) and never run, whether named by a path or by a bare name that is also on PATH
// (nixify once ran the one on PATH).
func TestInfoNeverRunsTheFileItReads(t *testing.T) {
	dir, onPath := t.TempDir(), t.TempDir()
	marker := filepath.Join(t.TempDir(), "ran")
	evil := "#!/bin/sh\necho ran >> " + marker + "\n"
	for _, p := range []string{filepath.Join(dir, "evil.tar"), filepath.Join(onPath, "evil.tar")} {
		if err := os.WriteFile(p, []byte(evil), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", onPath+":"+os.Getenv("PATH"))
	t.Chdir(dir)
	cfg := func() (*config.Loaded, error) {
		return &config.Loaded{Config: config.Config{StateDir: t.TempDir(), Architectures: arch.All}}, nil
	}
	for _, src := range []string{filepath.Join(dir, "evil.tar"), "evil.tar", "./evil.tar"} {
		io, _, _, _ := iostreams.Test()
		err := infoRun(context.Background(), &Options{IO: io, Config: cfg, Source: src})
		if _, serr := os.Stat(marker); serr == nil {
			t.Fatalf("info %s ran the file", src)
		}
		if cli.Code(err) != cli.ExitUsage || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "not an image archive") {
			t.Errorf("info %s: exit %d, %v", src, cli.Code(err), err)
		}
	}
}

// TestInfoOnADamagedRecordIsABadFile: exit 2 (the README's code for a bad file), not 1.
func TestInfoOnADamagedRecordIsABadFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "builds.json"), []byte("{"), 0o644)
	cfg := func() (*config.Loaded, error) {
		return &config.Loaded{Config: config.Config{StateDir: dir, Architectures: arch.All}}, nil
	}
	io, _, _, _ := iostreams.Test()
	if err := infoRun(context.Background(), &Options{IO: io, Config: cfg}); cli.Code(err) != cli.ExitUsage {
		t.Errorf("exit %d, %v", cli.Code(err), err)
	}
}

// TestInfoTakesTarAsRunDoes: `info --tar FILE` names the archive as `run --tar` does; a missing
// file or a second source is a usage error.
func TestInfoTakesTarAsRunDoes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "img.tar.gz")
	if _, err := imagetest.WriteFile(p, imagetest.Spec{Compress: "gzip"}); err != nil {
		t.Fatal(err)
	}
	io, _, _, _ := iostreams.Test()
	f := clitest.Factory(t, io)
	var got *Options
	if err := clitest.Execute(NewCmdInfo(f, func(o *Options) error { got = o; return nil }), "--tar", p); err != nil || got.Source != p {
		t.Fatalf("--tar: %v, %+v", err, got)
	}
	for _, args := range [][]string{{"--tar", p + ".missing"}, {"--tar", p, "other"}, {"--tar", p, "--diff"}} {
		err := clitest.Execute(NewCmdInfo(f, func(*Options) error { return nil }), args...)
		if cli.Code(err) != cli.ExitUsage {
			t.Errorf("%q: exit %d, %v", args, cli.Code(err), err)
		}
	}
}
