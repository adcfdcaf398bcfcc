package publish

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/nixify/nixify/internal/arch"
)

var notTagChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// maxTagPart leaves room in a 128-character tag for -SHA-aarch64-static.
const maxTagPart = 100

// TagPart makes a branch name usable inside a tag: feature/x → feature-x, cut to 100
// characters; "" when nothing of it is (a branch named only in other scripts).
func TagPart(s string) string {
	s = strings.Trim(notTagChars.ReplaceAllString(s, "-"), "-.")
	return strings.Trim(s[:min(len(s), maxTagPart)], "-.")
}

// Tags are the tags one push writes.
type Tags struct {
	PerArch map[arch.Arch][]string `json:"perArch"` // by architecture (x86_64, aarch64)
	Index   []string               `json:"index"`
}

// planTags returns the original project's tags: per architecture latest-ARCH-linux-static and
// BRANCH-SHA-ARCH-static, and for the index BRANCH-SHA; the latest tags only with latest (the
// default branch, or when asked). extra tags go on the index. rev may be empty when extra is not.
func planTags(archs []arch.Arch, rev *Revision, latest bool, extra []string) Tags {
	t := Tags{PerArch: map[arch.Arch][]string{}}
	for _, a := range archs {
		var ts []string
		if latest {
			ts = append(ts, "latest-"+a.String()+"-linux-static")
		}
		if part := branchPart(rev); part != "" {
			ts = append(ts, fmt.Sprintf("%s-%s-%s-static", part, rev.Short(), a))
		}
		t.PerArch[a] = ts
	}
	if latest {
		t.Index = append(t.Index, "latest")
	}
	if part := branchPart(rev); part != "" {
		t.Index = append(t.Index, part+"-"+rev.Short())
	}
	for _, e := range extra {
		if !slices.Contains(t.Index, e) {
			t.Index = append(t.Index, e)
		}
	}
	return t
}

// branchPart is the revision's branch as a tag part; "" without a branch and commit.
func branchPart(rev *Revision) string {
	if rev == nil || rev.Commit == "" {
		return ""
	}
	return TagPart(rev.Branch)
}

var tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ValidTag checks a --tag value against the distribution spec's tag grammar.
func ValidTag(t string) error {
	if !tagRE.MatchString(t) {
		return fmt.Errorf("invalid tag %q: accepted: 1-128 characters of letters, digits, _ . - not starting with . or -", t)
	}
	return nil
}
