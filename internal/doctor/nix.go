package doctor

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/nix"
)

// MinNixpkgsNix is the oldest Nix that current nixpkgs evaluates on (nixpkgs' lib/minver.nix).
const MinNixpkgsNix = "2.18"

type nixResult struct {
	checks   []Check
	storeDir string
	version  string // e.g. 2.8.0; empty when unknown
	old      bool   // older than MinNixpkgsNix: current nixpkgs refuses to evaluate
}

var versionRE = regexp.MustCompile(`(\d+)\.(\d+)(?:\.(\d+))?`)

// ParseNixVersion reads "nix (Nix) 2.8.0" into its numbers.
func ParseNixVersion(out string) (major, minor int, text string, ok bool) {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, "", false
	}
	major, _ = strconv.Atoi(m[1])
	minor, _ = strconv.Atoi(m[2])
	return major, minor, m[0], true
}

func checkNix(ctx context.Context, o Options) nixResult {
	r := nixResult{storeDir: "/nix/store"}
	nixPath := lookPath("nix", o.Getenv("PATH"))
	if nixPath == "" {
		r.checks = append(r.checks, Check{Name: "nix", Status: Fail, Blocker: true,
			Detail: "nix is not on PATH",
			Fix:    "install Nix (Debian/Ubuntu: `apt-get install nix-bin`; elsewhere the installer from nixos.org), then open a new shell"})
		r.checks = append(r.checks, Check{Name: "flakes", Status: Skip, Detail: "needs nix"})
		for _, a := range arch.All {
			r.checks = append(r.checks, Check{Name: "build " + a.System(), Status: Skip, Detail: "needs nix"})
		}
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, nixPath, "--version").CombinedOutput()
	maj, min, text, ok := ParseNixVersion(string(out))
	vc := Check{Name: "nix", Blocker: true}
	switch {
	case err != nil:
		vc.Status, vc.Detail, vc.Fix = Fail, fmt.Sprintf("%s --version failed: %s", nixPath, iostreams.FirstLine(string(out)+" "+err.Error())), "reinstall Nix"
	case !ok:
		vc.Status, vc.Detail = Warn, fmt.Sprintf("%s: cannot read its version from %q", nixPath, iostreams.FirstLine(string(out)))
	case maj < 2 || (maj == 2 && min < 18):
		r.version, r.old = text, true
		vc.Status = Warn
		vc.Detail = fmt.Sprintf("Nix %s at %s; current nixpkgs needs Nix %s or newer and will refuse to evaluate", text, nixPath, MinNixpkgsNix)
		vc.Fix = "upgrade Nix to " + MinNixpkgsNix + " or newer (the installer from nixos.org, or `nix upgrade-nix` on a multi-user install); local flakes without nixpkgs still build"
	default:
		vc.Status, vc.Detail = OK, fmt.Sprintf("Nix %s at %s", text, nixPath)
	}
	r.checks = append(r.checks, vc)

	s, err := ReadNixSettings(ctx, nixPath)
	if err != nil {
		r.checks = append(r.checks, Check{Name: "flakes", Status: Warn, Detail: err.Error()})
		return r
	}
	if d := o.Getenv("NIX_STORE_DIR"); d != "" {
		r.storeDir = d
	}
	fc := Check{Name: "flakes", Status: OK, Detail: "enabled (experimental-features: " + strings.Join(s.ExperimentalFeatures, " ") + ")"}
	if !slices.Contains(s.ExperimentalFeatures, "flakes") || !slices.Contains(s.ExperimentalFeatures, "nix-command") {
		fc.Status = Warn
		fc.Detail = "not enabled in nix.conf; nixify passes --extra-experimental-features 'nix-command flakes' to its own nix calls"
		fc.Fix = "to use flakes yourself: echo 'experimental-features = nix-command flakes' >> /etc/nix/nix.conf"
	}
	r.checks = append(r.checks, fc)
	if c, bad := buildUsersCheck(s, daemonSocket); bad {
		r.checks = append(r.checks, c)
	}
	for _, a := range arch.All {
		r.checks = append(r.checks, systemCheck(a, s, o.Proc))
	}
	return r
}

// ReadNixSettings asks nix for its effective settings, enabling nix-command for this call only.
func ReadNixSettings(ctx context.Context, nixPath string) (nix.Settings, error) {
	out, err := exec.CommandContext(ctx, nixPath, "--extra-experimental-features", "nix-command", "show-config", "--json").Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg = iostreams.FirstLine(string(ee.Stderr))
		}
		return nix.Settings{}, fmt.Errorf("nix show-config failed: %s", msg)
	}
	s, err := nix.ParseSettings(out)
	if err == nil && s.ExperimentalFeatures == nil {
		s.ExperimentalFeatures = textFeatures(ctx, nixPath)
	}
	return s, err
}

// textFeatures reads experimental-features from `nix show-config`'s text form.
func textFeatures(ctx context.Context, nixPath string) []string {
	out, err := exec.CommandContext(ctx, nixPath, "--extra-experimental-features", "nix-command", "show-config").Output()
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "experimental-features = "); ok {
			return strings.Fields(v)
		}
	}
	return nil
}

// systemCheck says whether this host can build a's images natively: its own system, extra-platforms
// backed by binfmt emulation, or a remote builder. When it cannot, nixify builds the cross output.
func systemCheck(a arch.Arch, s nix.Settings, proc string) Check {
	sys := a.System()
	c := Check{Name: "build " + sys}
	s.System = cmp.Or(s.System, arch.HostSystem())
	way, why := s.CanBuild(sys, proc)
	switch way {
	case nix.WayNative, nix.WayRemote:
		c.Status, c.Detail = OK, why
	case nix.WayEmulated:
		c.Status, c.Detail = OK, "emulated: "+why
	default:
		c.Status = Warn
		c.Detail = "not natively (" + why + "); nixify builds the cross-compiled output instead (no emulation needed)"
		c.Fix = "for native builds: apt-get install qemu-user-static binfmt-support; update-binfmts --enable qemu-" + a.String() +
			"; echo 'extra-platforms = " + sys + "' >> /etc/nix/nix.conf (or add a remote builder)"
	}
	return c
}

// daemonSocket is where a nix daemon listens, when one runs.
const daemonSocket = "/nix/var/nix/daemon-socket/socket"

// buildUsersCheck catches the first error a root user of a fresh single-user Nix meets (Debian's
// nix-bin without nix-setup-systemd): builds run as members of build-users-group, which must exist.
func buildUsersCheck(s nix.Settings, daemonSocket string) (Check, bool) {
	if s.BuildUsersGroup == "" || os.Geteuid() != 0 {
		return Check{}, false
	}
	if _, err := os.Stat(daemonSocket); err == nil {
		return Check{}, false // a daemon builds; its users are its business
	}
	if _, err := user.LookupGroup(s.BuildUsersGroup); err == nil {
		return Check{}, false
	}
	return Check{Name: "nix build users", Status: Fail, Blocker: true,
		Detail: "build-users-group is " + s.BuildUsersGroup + ", but that group does not exist: every build as root fails",
		Fix: "install the daemon (Debian: apt-get install nix-setup-systemd), or build without build users: " +
			"mkdir -p /etc/nix && echo 'build-users-group =' >> /etc/nix/nix.conf"}, true
}
