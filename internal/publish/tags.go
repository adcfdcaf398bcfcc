package publish

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/nixify/nixify/internal/arch"
)

var notTagChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// TagPart makes a branch name usable inside a tag: feature/x → feature-x.
func TagPart(s string) string {
	s = notTagChars.ReplaceAllString(s, "-")
	return strings.Trim(s, "-.")
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
		if rev != nil && rev.Branch != "" {
			ts = append(ts, fmt.Sprintf("%s-%s-%s-static", TagPart(rev.Branch), rev.Short(), a))
		}
		t.PerArch[a] = ts
	}
	if latest {
		t.Index = append(t.Index, "latest")
	}
	if rev != nil && rev.Branch != "" {
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
