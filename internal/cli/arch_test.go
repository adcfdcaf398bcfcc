package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/nixify/nixify/internal/arch"
)

// command declares --arch as a command acting on several (list) or on one image would.
func command(list bool) (*cobra.Command, *string, *arch.Arch) {
	var s string
	var one arch.Arch
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }, SilenceErrors: true, SilenceUsage: true}
	if list {
		ArchsFlag(cmd, &s, "all", "architectures")
	} else {
		ArchFlag(cmd, &one, "architecture")
	}
	cmd.SetFlagErrorFunc(FlagError)
	return cmd, &s, &one
}

func TestArchFlagsShareOneGrammarAndExitTwoOnABadName(t *testing.T) {
	for _, c := range []struct {
		list bool
		val  string
		want string // part of the one-line error; empty: accepted
	}{
		{true, "amd64,aarch64", ""},
		{true, "all", ""},
		{true, "x86_64,mips", `unknown architecture "mips": accepted: x86_64 (alias amd64), aarch64 (alias arm64), a comma list of them, or all`},
		{false, "arm64", ""},
		{false, "x86_64-linux", ""},
		{false, "mips", `unknown architecture "mips": accepted: x86_64 (alias amd64), aarch64 (alias arm64)`},
		{false, "all", "this command runs one image"},
		{false, "amd64,arm64", "this command runs one image"},
	} {
		cmd, _, _ := command(c.list)
		cmd.SetArgs([]string{"--arch", c.val})
		err := cmd.Execute()
		if c.want == "" {
			if err != nil {
				t.Errorf("list %v, --arch %q: %v", c.list, c.val, err)
			}
			continue
		}
		if Code(err) != ExitUsage || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("list %v, --arch %q: %v (exit %d); want one line with %q, exit 2", c.list, c.val, err, Code(err), c.want)
		}
	}
}

func TestParseArchs(t *testing.T) {
	configured := []arch.Arch{arch.AArch64}
	for in, want := range map[string][]arch.Arch{"": nil, "all": configured, "amd64,arm64,amd64": {arch.X86_64, arch.AArch64}} {
		got, err := ParseArchs(in, configured)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseArchs(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	// Options set by code (tests, up) skip the flag's check: the parse still refuses.
	if _, err := ParseArchs("riscv64", configured); Code(err) != ExitUsage || !strings.Contains(err.Error(), `invalid --arch "riscv64"`) {
		t.Errorf("ParseArchs(riscv64) = %v", err)
	}
}

func TestArchFlagDefaultIsThisMachine(t *testing.T) {
	cmd, _, one := command(false)
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil || *one != "" {
		t.Fatalf("%v %q", err, *one)
	}
	h, herr := arch.Host()
	err := HostArchIfEmpty(one)
	if (herr == nil) != (err == nil) || *one != h {
		t.Fatalf("HostArchIfEmpty: %q %v; this machine %q %v", *one, err, h, herr)
	}
	if herr != nil && Code(err) != ExitUsage {
		t.Errorf("unknown machine: exit %d, want 2", Code(err))
	}
	set := arch.X86_64
	if err := HostArchIfEmpty(&set); err != nil || set != arch.X86_64 {
		t.Errorf("a given --arch was replaced: %q %v", set, err)
	}
}

func TestArchFlagCompletesItsValues(t *testing.T) {
	for _, list := range []bool{true, false} {
		cmd, _, _ := command(list)
		fn, ok := cmd.GetFlagCompletionFunc("arch")
		if !ok {
			t.Fatal("no completion for --arch")
		}
		got, dir := fn(cmd, nil, "")
		want := []string{"x86_64", "aarch64"}
		if list {
			want = append(want, "all")
		}
		if !slices.Equal(got, want) || dir != cobra.ShellCompDirectiveNoFileComp {
			t.Errorf("list %v: completes %v (%v), want %v", list, got, dir, want)
		}
	}
}
