// Package arch names the CPU architectures nixify builds images for and spells each one the way
// its neighbours want it: Nix says x86_64 and aarch64 (systems x86_64-linux, aarch64-linux), Go and
// OCI say amd64 and arm64. Every user-given architecture (flags, configuration) is parsed here, with
// one grammar, so that a name nixify does not build is refused in one place instead of being
// guessed as amd64 somewhere downstream.
package arch

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
)

// Arch is an architecture in Nix's spelling, which is also how records, tags and JSON name it.
type Arch string

// The architectures nixify builds.
const (
	X86_64  Arch = "x86_64"
	AArch64 Arch = "aarch64"
)

// All is every architecture nixify builds, in the order help, tables and tags list them.
var All = []Arch{X86_64, AArch64}

// Accepted is the grammar of one architecture, for help texts and errors.
const Accepted = "x86_64 (alias amd64), aarch64 (alias arm64)"

// ListAccepted is the grammar of --arch on every command that takes several.
const ListAccepted = Accepted + ", a comma list of them, or all"

// oci maps each architecture to Go's and the OCI image config's spelling.
var oci = map[Arch]string{X86_64: "amd64", AArch64: "arm64"}

// String is the Nix spelling.
func (a Arch) String() string { return string(a) }

// Known reports whether nixify builds a. Only FromOCI yields unknown ones (an index in a registry
// may hold s390x); Parse never does.
func (a Arch) Known() bool { _, ok := oci[a]; return ok }

// GOARCH is Go's and OCI's spelling (amd64, arm64); an unknown architecture keeps its name.
func (a Arch) GOARCH() string {
	if g, ok := oci[a]; ok {
		return g
	}
	return string(a)
}

// System is the Nix system an image of a runs on: x86_64-linux, aarch64-linux.
func (a Arch) System() string { return string(a) + "-linux" }

// Platform is the engine's and OCI's platform string: linux/amd64, linux/arm64.
func (a Arch) Platform() string { return "linux/" + a.GOARCH() }

// Error is an architecture name nixify does not build.
type Error struct {
	Value string
	List  bool // the value was a --arch list, so "all" and commas were accepted too
}

func (e *Error) Error() string {
	acc := Accepted
	if e.List {
		acc = ListAccepted
	}
	return fmt.Sprintf("unknown architecture %q: accepted: %s", e.Value, acc)
}

// Parse reads one architecture in any spelling a user meets: Nix's (x86_64, aarch64), Go's and
// OCI's (amd64, arm64), a Nix system (x86_64-linux) or a platform (linux/arm64). Case and
// surrounding spaces do not matter.
func Parse(s string) (Arch, error) {
	n := strings.ToLower(strings.TrimSpace(s))
	n = strings.TrimPrefix(n, "linux/")
	n = strings.TrimSuffix(n, "-linux")
	for a, g := range oci {
		if n == string(a) || n == g {
			return a, nil
		}
	}
	return "", &Error{Value: s}
}

// ParseList reads --arch's grammar: "all" (meaning all, usually the configured architectures) or a
// comma list of architectures, duplicates dropped, order kept. An empty s yields nil: each command
// decides its own default.
func ParseList(s string, all []Arch) ([]Arch, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if strings.EqualFold(strings.TrimSpace(s), "all") {
		return slices.Clone(all), nil
	}
	var out []Arch
	for _, item := range strings.Split(s, ",") {
		a, err := Parse(item)
		if err != nil {
			return nil, &Error{Value: item, List: true}
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// FromOCI turns an image config's or index's architecture into nixify's spelling. One nixify does
// not build passes through unchanged (see Known), since images built elsewhere may be inspected.
func FromOCI(goarch string) Arch {
	for a, g := range oci {
		if goarch == g {
			return a
		}
	}
	return Arch(goarch)
}

// Host is this machine's architecture, the default of --arch. A machine nixify does not build for
// (riscv64, say) is an error that asks for --arch.
func Host() (Arch, error) { return host(runtime.GOARCH) }

func host(goarch string) (Arch, error) {
	if a := FromOCI(goarch); a.Known() {
		return a, nil
	}
	return "", fmt.Errorf("this machine is %s, for which nixify builds no image: pass --arch with %s", goarch, Accepted)
}

// HostSystem is this machine's Nix system as Go sees it (x86_64-linux, aarch64-darwin), for when
// nix itself has not been asked.
func HostSystem() string { return FromOCI(runtime.GOARCH).String() + "-" + runtime.GOOS }

// Strings spells archs in Nix's spelling, for messages and JSON.
func Strings(archs []Arch) []string {
	out := make([]string, len(archs))
	for i, a := range archs {
		out[i] = string(a)
	}
	return out
}
