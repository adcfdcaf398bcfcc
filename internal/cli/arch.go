package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nixify/nixify/internal/arch"
)

// Every command's --arch reads the one grammar of package arch: x86_64 (alias amd64), aarch64 (alias
// arm64), a comma list of them, or all. Commands that act on one image (run, up) take one name.

// ArchsFlag declares --arch on a command that takes several architectures. The value is checked
// as the flag is set, so a bad name stops the command before it does anything; ParseArchs then
// expands it once the configuration (what all means) is known.
func ArchsFlag(cmd *cobra.Command, p *string, def, usage string) {
	*p = def
	cmd.Flags().Var((*archListValue)(p), "arch", usage+": "+arch.ListAccepted)
	CompleteValues(cmd, "arch", append(arch.Strings(arch.All), "all")...)
}

// ParseArchs reads a command's --arch: all means the configured architectures; an empty flag yields
// nil, for the command's own default. A bad name is a usage error (exit 2) naming it and the grammar.
func ParseArchs(flag string, configured []arch.Arch) ([]arch.Arch, error) {
	archs, err := arch.ParseList(flag, configured)
	if err != nil {
		return nil, UsageError(fmt.Errorf("invalid --arch %q: %w", flag, err))
	}
	return archs, nil
}

// ArchFlag declares --arch on a command that acts on one image; the value is parsed as the flag is
// set, so a bad name stops the command before it does anything. Resolve with HostArchIfEmpty.
func ArchFlag(cmd *cobra.Command, p *arch.Arch, usage string) {
	cmd.Flags().Var((*archValue)(p), "arch", usage+": "+arch.Accepted+"; default: this machine's")
	CompleteValues(cmd, "arch", arch.Strings(arch.All)...)
}

// HostArchIfEmpty fills an unset --arch with this machine's architecture; a machine nixify builds
// no image for is a usage error asking for --arch.
func HostArchIfEmpty(p *arch.Arch) error {
	if *p != "" {
		return nil
	}
	h, err := HostArch()
	*p = h
	return err
}

// HostArch is this machine's architecture; one nixify builds no image for is a usage error.
func HostArch() (arch.Arch, error) {
	h, err := arch.Host()
	if err != nil {
		return "", UsageError(err)
	}
	return h, nil
}

// archListValue is --arch's text, checked against the list grammar when set.
type archListValue string

func (v *archListValue) String() string { return string(*v) }
func (v *archListValue) Type() string   { return "archs" }
func (v *archListValue) Set(s string) error {
	if _, err := arch.ParseList(s, nil); err != nil {
		return err
	}
	*v = archListValue(s)
	return nil
}

// archValue is one architecture as a pflag.Value.
type archValue arch.Arch

func (v *archValue) String() string { return string(*v) }
func (v *archValue) Type() string   { return "arch" }
func (v *archValue) Set(s string) error {
	if strings.Contains(s, ",") || strings.EqualFold(strings.TrimSpace(s), "all") {
		return fmt.Errorf("this command runs one image: give one of %s", arch.Accepted)
	}
	a, err := arch.Parse(s)
	if err != nil {
		return err
	}
	*v = archValue(a)
	return nil
}
