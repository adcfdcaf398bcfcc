package build

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/nix"
)

// Strategy is how an architecture's image gets built on this host.
type Strategy string

const (
	Native   Strategy = "native"   // the host's own system
	Emulated Strategy = "emulated" // extra-platforms with binfmt (qemu-user) emulation
	Remote   Strategy = "remote"   // a remote builder for that system
	Cross    Strategy = "cross"    // the flake's cross-compiled output, built by the host
)

// Plan is what will be built for one architecture, and why.
type Plan struct {
	Arch        arch.Arch `json:"arch"`   // x86_64 or aarch64
	System      string    `json:"system"` // the system the image is for
	Host        string    `json:"host"`   // the system this machine builds for natively
	Strategy    Strategy  `json:"strategy"`
	Attr        string    `json:"attr"`        // the attribute path built, under the flake
	Installable string    `json:"installable"` // flake#attr, as passed to nix build
	Reason      string    `json:"reason"`      // one sentence for the user
}

// CrossAttr is the flake attribute that cross-compiles attr for arch on host:
// packages.<host>.<attr>-cross-<arch>, e.g. packages.x86_64-linux.docker-image-static-cross-aarch64.
func CrossAttr(host, attr string, a arch.Arch) string {
	return fmt.Sprintf("packages.%s.%s-cross-%s", host, attr, a)
}

// NativeAttr is the flake attribute that builds attr on its own system.
func NativeAttr(system, attr string) string { return fmt.Sprintf("packages.%s.%s", system, attr) }

// NoWayError says that an architecture cannot be built here, and how to make it possible.
type NoWayError struct {
	Arch       arch.Arch
	Host, Attr string
}

func (e *NoWayError) Error() string {
	return fmt.Sprintf("cannot build %s images on this %s host: no emulation, no remote builder, and the flake has no %s", e.Arch.System(), e.Host, e.Attr)
}

// Hint is the fix.
func (e *NoWayError) Hint() string {
	sys := e.Arch.System()
	return "enable emulation: apt-get install qemu-user-static binfmt-support && update-binfmts --enable qemu-" + e.Arch.String() +
		" && echo 'extra-platforms = " + sys + "' >> /etc/nix/nix.conf; or add a remote builder for " + sys +
		"; or give the flake a cross output " + e.Attr
}

// Choose decides, per architecture, how to build it: natively when the host can (its own system,
// emulation declared in extra-platforms and backed by binfmt, or a remote builder), otherwise the
// flake's cross output. Nix is only asked about its settings when an architecture is foreign.
func Choose(ctx context.Context, n *nix.Nix, o Options) ([]Plan, error) {
	n = readOnlyLock(n)
	host := o.HostSystem
	if host == "" {
		host = arch.HostSystem()
	}
	var settings *nix.Settings
	var crossNames []string
	crossListed := false
	plans := make([]Plan, 0, len(o.Archs))
	for _, a := range o.Archs {
		sys := a.System()
		p := Plan{Arch: a, System: sys, Host: host}
		if sys == host {
			p.Strategy, p.Attr, p.Reason = Native, NativeAttr(sys, o.Attr), "native build on this "+host+" host"
		} else {
			if settings == nil {
				s, err := n.Settings(ctx)
				if err != nil {
					return nil, fmt.Errorf("read nix settings: %w", err)
				}
				settings = &s
				if settings.System != "" && o.HostSystem == "" {
					host, p.Host = settings.System, settings.System
				}
			}
			proc := o.Proc
			if proc == "" {
				proc = "/proc"
			}
			asHost := *settings
			asHost.System = host // the host the plan is for, which tests may set
			// The reasons fit 80 columns after "• aarch64: ", where the live view prints them.
			way, why := asHost.CanBuild(sys, proc)
			switch way {
			case nix.WayNative:
				p.Strategy, p.Attr, p.Reason = Native, NativeAttr(sys, o.Attr), "native build on this "+host+" host"
			case nix.WayEmulated:
				p.Strategy, p.Attr = Emulated, NativeAttr(sys, o.Attr)
				p.Reason = "built as " + sys + " under qemu-" + a.String() + " emulation"
			case nix.WayRemote:
				p.Strategy, p.Attr = Remote, NativeAttr(sys, o.Attr)
				p.Reason = "built as " + sys + " on the " + why
			default:
				if !crossListed {
					names, err := n.AttrNames(ctx, o.Flake, "packages."+host)
					if err != nil {
						return nil, fmt.Errorf("list the flake's packages for %s: %w", host, err)
					}
					crossNames, crossListed = names, true
				}
				attr := CrossAttr(host, o.Attr, a)
				if !slices.Contains(crossNames, strings.TrimPrefix(attr, "packages."+host+".")) {
					return nil, &NoWayError{Arch: a, Host: host, Attr: attr}
				}
				p.Strategy, p.Attr = Cross, attr
				p.Reason = "cross-compiled on " + host + ": no " + a.String() + " emulation or builder"
			}
		}
		p.Installable = o.Flake + "#" + p.Attr
		plans = append(plans, p)
	}
	return plans, nil
}
