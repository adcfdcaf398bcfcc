package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// MinNixpkgsNix is the oldest Nix that current nixpkgs evaluates on (nixpkgs' lib/minver.nix).
const MinNixpkgsNix = "2.18"

type nixResult struct {
	checks   []Check
	storeDir string
}

// NixSettings is what nixify reads of `nix show-config`.
type NixSettings struct {
	System               string
	ExtraPlatforms       []string
	ExperimentalFeatures []string
	Builders             string
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
	nix := lookPath("nix", o.Getenv("PATH"))
	if nix == "" {
		r.checks = append(r.checks, Check{Name: "nix", Status: Fail, Blocker: true,
			Detail: "nix is not on PATH",
			Fix:    "install Nix (Debian/Ubuntu: `apt-get install nix-bin`; elsewhere the installer from nixos.org), then open a new shell"})
		r.checks = append(r.checks, Check{Name: "flakes", Status: Skip, Detail: "needs nix"},
			Check{Name: "build x86_64-linux", Status: Skip, Detail: "needs nix"},
			Check{Name: "build aarch64-linux", Status: Skip, Detail: "needs nix"})
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, nix, "--version").CombinedOutput()
	maj, min, text, ok := ParseNixVersion(string(out))
	vc := Check{Name: "nix", Blocker: true}
	switch {
	case err != nil:
		vc.Status, vc.Detail, vc.Fix = Fail, fmt.Sprintf("%s --version failed: %s", nix, firstLine(string(out)+" "+err.Error())), "reinstall Nix"
	case !ok:
		vc.Status, vc.Detail = Warn, fmt.Sprintf("%s: cannot read its version from %q", nix, firstLine(string(out)))
	case maj < 2 || (maj == 2 && min < 18):
		vc.Status = Warn
		vc.Detail = fmt.Sprintf("Nix %s at %s; current nixpkgs needs Nix %s or newer and will refuse to evaluate", text, nix, MinNixpkgsNix)
		vc.Fix = "upgrade Nix to " + MinNixpkgsNix + " or newer (the installer from nixos.org, or `nix upgrade-nix` on a multi-user install); local flakes without nixpkgs still build"
	default:
		vc.Status, vc.Detail = OK, fmt.Sprintf("Nix %s at %s", text, nix)
	}
	r.checks = append(r.checks, vc)

	s, err := ReadNixSettings(ctx, nix)
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
	for _, sys := range []string{"x86_64-linux", "aarch64-linux"} {
		r.checks = append(r.checks, systemCheck(sys, s, o.Proc))
	}
	return r
}

// ReadNixSettings asks nix for its effective settings, enabling nix-command for this call only.
func ReadNixSettings(ctx context.Context, nix string) (NixSettings, error) {
	cmd := exec.CommandContext(ctx, nix, "--extra-experimental-features", "nix-command", "show-config", "--json")
	cmd.Stderr = nil
	out, err := cmd.Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			msg = firstLine(string(ee.Stderr))
		}
		return NixSettings{}, fmt.Errorf("nix show-config failed: %s", msg)
	}
	var raw map[string]struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return NixSettings{}, fmt.Errorf("nix show-config: unexpected output: %v", err)
	}
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(raw[k].Value, &s)
		return s
	}
	list := func(k string) []string {
		var l []string
		if json.Unmarshal(raw[k].Value, &l) == nil {
			return l
		}
		return strings.Fields(str(k))
	}
	return NixSettings{
		System:               str("system"),
		ExtraPlatforms:       list("extra-platforms"),
		ExperimentalFeatures: list("experimental-features"),
		Builders:             str("builders"),
	}, nil
}

// systemCheck says whether this host can build sys natively: its own system, extra-platforms
// backed by binfmt emulation, or a remote builder. When it cannot, nixify builds the cross output.
func systemCheck(sys string, s NixSettings, proc string) Check {
	c := Check{Name: "build " + sys}
	host := s.System
	if host == "" {
		host = runtime.GOARCH + "-linux"
	}
	arch := strings.TrimSuffix(sys, "-linux")
	switch {
	case host == sys:
		c.Status, c.Detail = OK, "native ("+host+")"
		return c
	case slices.Contains(s.ExtraPlatforms, sys) && binfmtEnabled(proc, "qemu-"+arch):
		c.Status, c.Detail = OK, "emulated: extra-platforms includes "+sys+" and binfmt qemu-"+arch+" is enabled"
		return c
	case builderFor(s.Builders, sys) != "":
		c.Status, c.Detail = OK, "remote builder "+builderFor(s.Builders, sys)
		return c
	}
	c.Status = Warn
	c.Detail = "not natively; nixify builds the cross-compiled output instead (no emulation needed)"
	if slices.Contains(s.ExtraPlatforms, sys) {
		c.Detail += "; extra-platforms lists " + sys + " but binfmt qemu-" + arch + " is not enabled"
	}
	c.Fix = "for native builds: apt-get install qemu-user-static binfmt-support; update-binfmts --enable qemu-" + arch +
		"; echo 'extra-platforms = " + sys + "' >> /etc/nix/nix.conf (or add a remote builder)"
	return c
}

func binfmtEnabled(proc, name string) bool {
	data, err := os.ReadFile(filepath.Join(proc, "sys", "fs", "binfmt_misc", name))
	return err == nil && strings.HasPrefix(string(data), "enabled")
}

// builderFor returns the first remote builder in Nix's builders setting that lists sys.
func builderFor(builders, sys string) string {
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
