package nix

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Way is how this host's Nix can build derivations of a given system itself.
type Way string

const (
	WayNative   Way = "native"   // the host's own system
	WayEmulated Way = "emulated" // extra-platforms lists it and binfmt (qemu-user) runs its programs
	WayRemote   Way = "remote"   // a remote builder declares it
	WayNone     Way = ""         // none of these: only a cross-compiled output can help
)

// CanBuild says how s's Nix builds derivations for sys, with a phrase saying why. proc is where
// /proc is mounted (tests point it elsewhere). Both `nixify build` and `nixify doctor` ask this.
func (s Settings) CanBuild(sys, proc string) (Way, string) {
	arch := strings.TrimSuffix(sys, "-linux")
	switch {
	case s.System == sys:
		return WayNative, "native (" + sys + ")"
	case slices.Contains(s.ExtraPlatforms, sys) && BinfmtEnabled(proc, "qemu-"+arch):
		return WayEmulated, "extra-platforms lists " + sys + " and binfmt qemu-" + arch + " is enabled"
	case BuilderFor(s.Builders, sys) != "":
		return WayRemote, "remote builder " + BuilderFor(s.Builders, sys)
	case slices.Contains(s.ExtraPlatforms, sys):
		return WayNone, "extra-platforms lists " + sys + " but binfmt qemu-" + arch + " is not enabled"
	}
	return WayNone, "no emulation or remote builder for " + sys
}

// BinfmtEnabled reports whether the kernel runs foreign binaries through the named binfmt_misc
// entry (e.g. qemu-aarch64).
func BinfmtEnabled(proc, name string) bool {
	data, err := os.ReadFile(filepath.Join(proc, "sys", "fs", "binfmt_misc", name))
	return err == nil && strings.HasPrefix(string(data), "enabled")
}

// BuilderFor returns the first remote builder in Nix's builders setting that lists sys.
func BuilderFor(builders, sys string) string {
	if strings.HasPrefix(builders, "@") {
		data, err := os.ReadFile(strings.TrimPrefix(builders, "@"))
		if err != nil {
			return ""
		}
		builders = string(data)
	}
	for _, line := range strings.FieldsFunc(builders, func(r rune) bool { return r == ';' || r == '\n' }) {
		f := strings.Fields(line)
		if len(f) >= 2 && !strings.HasPrefix(f[0], "#") && slices.Contains(strings.Split(f[1], ","), sys) {
			return f[0]
		}
	}
	return ""
}
