package publish

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/nixify/nixify/internal/arch"
)

// Revision is the branch and commit a push is tagged with.
type Revision struct {
	Branch  string    // empty when unknown: the branch tags are then left out
	Commit  string    // full SHA
	Default bool      // the repository's default branch: the index is also tagged latest
	Time    time.Time // commit time, zero when git cannot tell
}

// Short is the commit's first seven characters, as the original project's tags used.
func (r Revision) Short() string { return r.Commit[:min(7, len(r.Commit))] }

// checkout asks git in one directory.
type checkout struct {
	ctx context.Context
	dir string
}

func (c checkout) git(args ...string) (string, error) {
	cmd := exec.CommandContext(c.ctx, "git", args...)
	cmd.Dir = c.dir
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

func (c checkout) commitTime(commit string) time.Time {
	t, err := c.git("show", "-s", "--format=%cI", commit)
	if err != nil {
		return time.Time{}
	}
	at, _ := time.Parse(time.RFC3339, t)
	return at
}

// ResolveRevision takes the branch and commit checked out: GITHUB_REF_NAME and GITHUB_SHA when
// set, git in dir otherwise. A push of earlier pushed images (--index-from) is tagged with it.
func ResolveRevision(ctx context.Context, getenv func(string) string, dir string) (Revision, error) {
	c := checkout{ctx, dir}
	r := Revision{Branch: getenv("GITHUB_REF_NAME"), Commit: getenv("GITHUB_SHA")}
	if err := checkEnv(r); err != nil {
		return Revision{}, err
	}
	if r.Commit == "" {
		r.Commit, _ = c.git("rev-parse", "HEAD")
	}
	if r.Commit == "" {
		return r, fmt.Errorf("cannot tell the commit: not in a git checkout (set GITHUB_REF_NAME and GITHUB_SHA, or pass --tag)")
	}
	if r.Branch == "" {
		if b, err := c.git("rev-parse", "--abbrev-ref", "HEAD"); err == nil && b != "HEAD" {
			r.Branch = b
		}
	}
	if r.Branch == "" {
		return r, fmt.Errorf("cannot tell the branch: HEAD is detached (set GITHUB_REF_NAME, or pass --tag)")
	}
	r.Time = c.commitTime(r.Commit)
	def := "main"
	if getenv("GITHUB_ACTIONS") != "true" {
		if h, err := c.git("symbolic-ref", "--short", "refs/remotes/origin/HEAD"); err == nil && h != "" {
			def = strings.TrimPrefix(h, "origin/")
		}
	}
	r.Default = r.Branch == def || (def == "main" && r.Branch == "master")
	return r, nil
}

// EnvError is a GITHUB_REF_NAME or GITHUB_SHA that cannot be what it claims: it would end up in
// tags and annotations.
type EnvError struct{ Name, Value, Accepted string }

func (e *EnvError) Error() string {
	v := e.Value
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	return fmt.Sprintf("invalid %s %q: accepted: %s", e.Name, v, e.Accepted)
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

// checkEnv refuses a branch or commit from the environment that no git would give.
func checkEnv(r Revision) error {
	if r.Commit != "" && !commitRE.MatchString(r.Commit) {
		return &EnvError{"GITHUB_SHA", r.Commit, "a commit id, 7 to 64 lowercase hex digits"}
	}
	if len(r.Branch) > 1024 || strings.IndexFunc(r.Branch, func(c rune) bool { return c <= ' ' || c == 0x7f }) >= 0 {
		return &EnvError{"GITHUB_REF_NAME", r.Branch, "a branch or tag name: up to 1024 characters, no spaces or control characters"}
	}
	return nil
}

// Built is the commit one architecture's build was made from (its flake's revision; empty when
// the flake had uncommitted changes or is not in git).
type Built struct {
	Arch     arch.Arch
	Revision string
}

// RevisionError refuses a push whose tags would name a commit the images were not built from.
type RevisionError struct{ Reason string }

func (e *RevisionError) Error() string { return e.Reason }

// BuiltRevision is the revision a push of builds is tagged and annotated with: the commit the
// builds were made from, on the branch checked out in repoDir, the flake's own git checkout
// (which need not be the working directory: build --flake ELSEWHERE). It refuses (unless force)
// when the builds are from a dirty tree, from different commits, or when the checkout's HEAD has
// moved since: the tag would name a commit the image was not built from. With force, a moved HEAD
// still gives the built commit; a dirty build gives HEAD's. repoDir is "" for a flake that is not
// a local path: nothing is compared, and only GITHUB_REF_NAME can name the branch. It returns nil
// when neither the builds nor the checkout know a commit.
func BuiltRevision(ctx context.Context, getenv func(string) string, repoDir string, builds []Built, force bool) (*Revision, error) {
	cur := Revision{Branch: getenv("GITHUB_REF_NAME"), Commit: getenv("GITHUB_SHA")}
	if err := checkEnv(cur); err != nil {
		return nil, err
	}
	cur = Revision{Branch: cur.Branch, Default: cur.Branch == "main" || cur.Branch == "master"}
	if repoDir != "" {
		cur, _ = ResolveRevision(ctx, getenv, repoDir) // what it could tell: a commit without a branch still counts
	}
	var built string
	for i, b := range builds {
		if i > 0 && b.Revision != built && !force {
			return nil, &RevisionError{fmt.Sprintf("the builds are from different commits (%s at %s, %s at %s): build them together", builds[0].Arch, orDirty(builds[0].Revision), b.Arch, orDirty(b.Revision))}
		}
		if built == "" {
			built = b.Revision
		}
	}
	switch {
	case built == "" && cur.Commit == "":
		return nil, nil
	case built == "":
		if !force {
			return nil, &RevisionError{fmt.Sprintf("the last %s build is from a tree with uncommitted changes (nix recorded no commit for it): its tags would name %s, which it was not built from", builds[0].Arch, short(cur.Commit))}
		}
		return &cur, nil
	case cur.Commit != "" && cur.Commit != built && !force:
		return nil, &RevisionError{fmt.Sprintf("HEAD is %s in %s but the last %s build is from %s: its tags must name the commit it was built from", short(cur.Commit), repoDir, builds[0].Arch, short(built))}
	}
	r := Revision{Branch: cur.Branch, Commit: built, Default: cur.Default}
	if repoDir != "" {
		r.Time = checkout{ctx, repoDir}.commitTime(built)
	}
	return &r, nil
}

func short(c string) string { return Revision{Commit: c}.Short() }

func orDirty(rev string) string {
	if rev == "" {
		return "uncommitted changes"
	}
	return short(rev)
}
