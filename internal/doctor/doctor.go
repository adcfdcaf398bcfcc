// Package doctor finds out what this machine can and cannot do for nixify (build with Nix for which
// systems, reach a Docker engine, push to the registry) and says how to fix what is missing.
package doctor

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/nixify/nixify/internal/engine"
)

// Status is a check's verdict.
type Status string

const (
	OK   Status = "ok"
	Warn Status = "warn" // works, but not as well as it could
	Fail Status = "fail" // nixify cannot do this here
	Skip Status = "skipped"
)

// Check is one line of the report.
type Check struct {
	Name    string `json:"name"`
	Status  Status `json:"status"`
	Detail  string `json:"detail"`
	Fix     string `json:"fix,omitempty"`
	Blocker bool   `json:"blocker"` // this check stops the main job (build, run) here: only ever with Status fail
}

// Report is the whole diagnosis.
type Report struct {
	OK      bool    `json:"ok"`      // the main job (build and run) can run here
	Verdict string  `json:"verdict"` // the closing sentence
	Checks  []Check `json:"checks"`
}

// Options say what to check and how to reach it.
type Options struct {
	Getenv     func(string) string
	DockerHost string // nixify's docker_host setting
	Repo       string // the registry repository push would use
	StateDir   string
	Flake      string // the configured flake, checked against this Nix
	WorkDir    string // where a relative flake reference is; empty: the working directory
	// Proc is where /proc lives (tests point it elsewhere); empty means /proc.
	Proc string
	// Timeout bounds each external call (nix, engine).
	Timeout time.Duration
}

// Run performs every check. It never fails as a whole: each problem becomes a check's verdict.
func Run(ctx context.Context, o Options) Report {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Proc == "" {
		o.Proc = "/proc"
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	var r Report
	n := checkNix(ctx, o)
	r.Checks = append(r.Checks, n.checks...)
	flake := checkFlake(o, n)
	if flake != nil {
		r.Checks = append(r.Checks, *flake)
	}
	r.Checks = append(r.Checks, checkEngine(ctx, o))
	r.Checks = append(r.Checks, checkCredentials(o))
	r.Checks = append(r.Checks, checkDisk(o, n.storeDir)...)
	r.OK = true
	others := false // blockers other than the flake's
	for i := range r.Checks {
		c := &r.Checks[i]
		// A check that could block (nix) but only warns does not: the row and the JSON say one
		// thing.
		c.Blocker = c.Blocker && c.Status == Fail
		if c.Blocker {
			r.OK = false
			others = others || flake == nil || c.Name != flake.Name
		}
	}
	switch {
	case r.OK:
		r.Verdict = "nixify can build and run images here."
	case !others:
		// This Nix builds local flakes without nixpkgs: only the configured one is out of reach.
		r.Verdict = "nixify can run images here, but cannot build the configured flake " + o.Flake + " until the failure above is fixed."
	default:
		r.Verdict = "nixify cannot build and run images here until the failures above are fixed."
	}
	return r
}

// checkFlake is a blocker when the configured flake has a nixpkgs input and this Nix is too old to
// evaluate nixpkgs; nil when that is not so or cannot be told (a remote flake).
func checkFlake(o Options, n nixResult) *Check {
	if !n.old || o.Flake == "" {
		return nil
	}
	uses, known := usesNixpkgs(o.Flake, o.WorkDir)
	if !known || !uses {
		return nil
	}
	return &Check{Name: "flake " + o.Flake, Status: Fail, Blocker: true,
		Detail: "has a nixpkgs input, which Nix " + n.version + " cannot evaluate (current nixpkgs needs Nix " + MinNixpkgsNix + " or newer)",
		Fix:    "upgrade Nix to " + MinNixpkgsNix + " or newer, or build a flake without nixpkgs"}
}

func checkEngine(ctx context.Context, o Options) Check {
	c := Check{Name: "docker engine", Blocker: true}
	ep, err := engine.ResolveEndpoint(o.DockerHost, o.Getenv)
	if err != nil {
		c.Status, c.Detail = Fail, err.Error()
		c.Fix = "fix the docker context (`docker context use default`) or set DOCKER_HOST"
		return c
	}
	e, err := engine.New(ep)
	if err != nil {
		c.Status, c.Detail, c.Fix = Fail, err.Error(), "set DOCKER_HOST to a unix:// or tcp:// endpoint"
		return c
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	api, err := e.Ping(ctx)
	if err != nil {
		c.Status, c.Detail = Fail, err.Error()
		c.Fix = "start the engine (`systemctl start docker` or `dockerd`), or point DOCKER_HOST / the docker context at a running one"
		if ep.Source != "default" {
			c.Fix = "the endpoint comes from " + ep.Source + ": " + c.Fix
		}
		return c
	}
	v, err := e.Version(ctx)
	if err != nil {
		c.Status, c.Detail = Warn, "reachable at "+ep.String()+", API "+api+", but: "+err.Error()
		return c
	}
	c.Status = OK
	c.Detail = "Docker " + v.Version + " (" + v.OS + "/" + v.Arch + "), API " + api + " at " + ep.String()
	return c
}

// lookPath finds name on the given PATH value, as the shell would.
func lookPath(name, path string) string {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}
