// Package publish ships images to a registry: each architecture's image by digest, then an OCI
// index of all of them, then the tags. It knows registries and nothing about Nix: its input is a
// v1.Image per architecture, from package image.
package publish

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nixify/nixify/internal/arch"
)

// Revision is the branch and commit a push is tagged with.
type Revision struct {
	Branch  string
	Commit  string    // full SHA
	Default bool      // the repository's default branch: the index is also tagged latest
	Time    time.Time // commit time, zero when git cannot tell
}

// Short is the commit's first seven characters, as the original project's tags used.
func (r Revision) Short() string { return r.Commit[:min(7, len(r.Commit))] }

var notTagChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// TagPart makes a branch name usable inside a tag: feature/x → feature-x.
func TagPart(s string) string {
	s = notTagChars.ReplaceAllString(s, "-")
	return strings.Trim(s, "-.")
}

// ResolveRevision takes the branch and commit from GITHUB_REF_NAME and GITHUB_SHA when set, and
// from git in dir otherwise.
func ResolveRevision(ctx context.Context, getenv func(string) string, dir string) (Revision, error) {
	r := Revision{Branch: getenv("GITHUB_REF_NAME"), Commit: getenv("GITHUB_SHA")}
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	if r.Branch == "" {
		b, err := git("rev-parse", "--abbrev-ref", "HEAD")
		if err != nil || b == "" || b == "HEAD" {
			return r, fmt.Errorf("cannot tell the branch: not in a git checkout on a branch (set GITHUB_REF_NAME and GITHUB_SHA, or pass --tag)")
		}
		r.Branch = b
	}
	if r.Commit == "" {
		c, err := git("rev-parse", "HEAD")
		if err != nil || c == "" {
			return r, fmt.Errorf("cannot tell the commit: git rev-parse HEAD failed (set GITHUB_REF_NAME and GITHUB_SHA, or pass --tag)")
		}
		r.Commit = c
	}
	if t, err := git("show", "-s", "--format=%cI", r.Commit); err == nil {
		r.Time, _ = time.Parse(time.RFC3339, t)
	}
	def := "main"
	if getenv("GITHUB_ACTIONS") != "true" {
		if h, err := git("symbolic-ref", "--short", "refs/remotes/origin/HEAD"); err == nil && h != "" {
			def = strings.TrimPrefix(h, "origin/")
		}
	}
	r.Default = r.Branch == def || (def == "main" && r.Branch == "master")
	return r, nil
}

// Tags are the tags one push writes.
type Tags struct {
	PerArch map[arch.Arch][]string `json:"perArch"` // by architecture (x86_64, aarch64)
	Index   []string               `json:"index"`
}

// PlanTags returns the original project's tags: per architecture latest-ARCH-linux-static and
// BRANCH-SHA-ARCH-static, and for the index BRANCH-SHA; the latest tags only with latest (the
// default branch, or when asked). extra tags go on the index. rev may be empty when extra is not.
func PlanTags(archs []arch.Arch, rev *Revision, latest bool, extra []string) Tags {
	t := Tags{PerArch: map[arch.Arch][]string{}}
	for _, a := range archs {
		var ts []string
		if latest {
			ts = append(ts, "latest-"+a.String()+"-linux-static")
		}
		if rev != nil {
			ts = append(ts, fmt.Sprintf("%s-%s-%s-static", TagPart(rev.Branch), rev.Short(), a))
		}
		t.PerArch[a] = ts
	}
	if latest {
		t.Index = append(t.Index, "latest")
	}
	if rev != nil {
		t.Index = append(t.Index, TagPart(rev.Branch)+"-"+rev.Short())
	}
	for _, e := range extra {
		if !slices.Contains(t.Index, e) {
			t.Index = append(t.Index, e)
		}
	}
	return t
}

var tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ValidTag checks a --tag value against the distribution spec's tag grammar.
func ValidTag(t string) error {
	if !tagRE.MatchString(t) {
		return fmt.Errorf("invalid tag %q: accepted: 1-128 characters of letters, digits, _ . - not starting with . or -", t)
	}
	return nil
}
