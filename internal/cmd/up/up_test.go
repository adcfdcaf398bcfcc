package up

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/cli/clitest"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/iostreams"
)

func TestUpGetsItsBuildStepFromTheCaller(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	f := clitest.Factory(t, io)
	var builtArch string
	step := func(_ context.Context, a arch.Arch) error { builtArch = a.String(); return nil }
	var got *Options
	cmd := NewCmdUp(f, step, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--arch", "arm64", "--publish", "all"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Run.Arch != "aarch64" || !got.Run.ReplaceOwn {
		t.Fatalf("options: %+v", got.Run)
	}
	if err := got.Build(context.Background(), got.Run.Arch); err != nil || builtArch != "aarch64" {
		t.Fatalf("build step: %v, arch %q", err, builtArch)
	}
}

func TestUpBuildsOnlyWhenNeeded(t *testing.T) {
	boom := errors.New("builder failed")
	cases := []struct {
		name             string
		need, noBuilder  bool
		needErr          error
		buildErr         error
		wantBuild, wantR bool
		wantErr          error
		wantMsg          string
	}{
		{name: "unchanged", need: false, wantR: true, wantMsg: "no build needed: same"},
		{name: "changed", need: true, wantBuild: true, wantR: true, wantMsg: "building: same"},
		{name: "no builder", need: true, noBuilder: true, wantR: true, wantMsg: "running the last build"},
		{name: "build fails", need: true, buildErr: boom, wantBuild: true, wantErr: boom},
		{name: "cannot tell", needErr: boom, wantErr: boom},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			io, _, _, errOut := iostreams.Test()
			var built, ran bool
			o := &Options{IO: io, Run: &shared.RunOptions{Arch: "x86_64"},
				Needed: func(context.Context, arch.Arch) (bool, string, error) { return c.need, "same", c.needErr },
				Build:  func(context.Context, arch.Arch) error { built = true; return c.buildErr },
				Start:  func(context.Context, *shared.RunOptions) error { ran = true; return nil },
			}
			if c.noBuilder {
				o.Build = nil
			}
			err := upRun(context.Background(), o)
			if !errors.Is(err, c.wantErr) || built != c.wantBuild || ran != c.wantR {
				t.Fatalf("err %v built %v ran %v", err, built, ran)
			}
			if c.wantMsg != "" && !strings.Contains(errOut.String(), c.wantMsg) {
				t.Fatalf("stderr %q lacks %q", errOut.String(), c.wantMsg)
			}
		})
	}
}

// TestUpTakesFlakeAndAttr (issue 23): up builds, so it takes build's --flake and --attr, and the
// build step and the change check (both read the configuration) see them.
func TestUpTakesFlakeAndAttr(t *testing.T) {
	io, _, _, _ := iostreams.Test()
	f := clitest.Factory(t, io)
	var got *Options
	cmd := NewCmdUp(f, nil, func(o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--flake", "github:owner/repo", "--attr", "other-image"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	l, err := got.Run.Config()
	if err != nil || l.Config.Flake != "github:owner/repo" || l.Config.Attr != "other-image" {
		t.Fatalf("configuration seen by the build step: %+v %v", l, err)
	}
}
