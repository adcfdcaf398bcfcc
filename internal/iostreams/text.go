package iostreams

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// FirstLine is the first line of a tool's output or an error, trimmed: what a one-line message
// shows of a longer one.
func FirstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(line)
}

// Count is n and the noun that goes with it: "1 layer", "2 layers", "0 layers". many is the
// plural, given in full because English does not add an s to every noun ("retry", "retries").
func Count(n int, one, many string) string {
	if n == 1 || n == -1 {
		many = one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// ShortID is an image or container ID as docker prints it: without the algorithm, 12 hex digits.
func ShortID(id string) string {
	if hex := strings.TrimPrefix(id, "sha256:"); len(hex) > 12 && isHex(hex) {
		return hex[:12]
	}
	return id
}

// ShortStorePath is a Nix store path with its hash cut to 7 characters, as `git log --oneline`
// does for commits: /nix/store/0c4bmhv…-glibc-2.40. The name, which is what a reader looks for,
// stays whole, and so does a path inside the store entry; anything else is left alone.
func ShortStorePath(p string) string { return storeHashRE.ReplaceAllString(p, "/store/$1…-") }

// storeHashRE is a store path's hash (Nix's base-32: digits and letters but e, o, u and t).
var storeHashRE = regexp.MustCompile(`/store/([0-9a-df-np-sv-z]{7})[0-9a-df-np-sv-z]{25}-`)

// digestRE is a sha256 or sha512 digest, its first 12 hex digits kept.
var digestRE = regexp.MustCompile(`\b(sha256|sha512):([0-9a-f]{12})[0-9a-f]{20,}\b`)

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// shorten is text for a line that does not fit: each store path cut as ShortStorePath does, each
// digest to its algorithm and 12 hex digits (sha256:3f4ca7e5c9d4), the rest kept.
func shorten(text string) string {
	return digestRE.ReplaceAllString(ShortStorePath(text), "$1:$2")
}

// Reflow wraps text written as paragraphs (help texts, long messages) to width columns, breaking
// only between words. Lines of a paragraph are joined first, so a text hard-wrapped for one width
// reads right at any other. Kept as they are:
//   - blank lines (paragraph breaks);
//   - indented lines with no two-space gap (commands, code): one line each, never broken;
//   - "- " items, each wrapped under its own text;
//   - definition lists, indented "TERM  description" lines: the description wraps under itself,
//     and an indented line that starts at a description's column continues it.
//
// width <= 0 leaves the text as it is.
func Reflow(text string, width int) string {
	if width <= 0 {
		return text
	}
	var out []string
	var cur *unit
	flush := func() {
		if cur != nil {
			out = append(out, cur.wrap(width)...)
			cur = nil
		}
	}
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		switch {
		case strings.TrimSpace(line) == "":
			flush()
			out = append(out, "")
		case cur != nil && (cur.kind == defItem || cur.kind == bullet) && indent == cur.hang:
			cur.text += " " + trimmed
		case strings.HasPrefix(trimmed, "- ") || strings.HasPrefix(trimmed, "* "):
			flush()
			cur = &unit{kind: bullet, first: line[:indent+2], hang: indent + 2, text: trimmed[2:]}
		case indent > 0:
			flush()
			if gap := strings.Index(trimmed, "  "); gap > 0 {
				rest := strings.TrimLeft(trimmed[gap:], " ")
				hang := indent + len(trimmed) - len(rest)
				cur = &unit{kind: defItem, first: line[:hang], hang: hang, text: rest}
			} else {
				out = append(out, line)
			}
		case cur != nil && (cur.kind == prose || cur.kind == bullet):
			cur.text += " " + trimmed
		default:
			flush()
			cur = &unit{kind: prose, text: trimmed}
		}
	}
	flush()
	return strings.Join(out, "\n")
}

type unitKind int

const (
	prose unitKind = iota
	bullet
	defItem
)

// unit is one paragraph, list item or definition being reflowed.
type unit struct {
	kind  unitKind
	first string // what the first line starts with: a bullet, a term and its padding
	hang  int    // the column where the text starts on every line
	text  string
}

func (u *unit) wrap(width int) []string {
	hang, first := u.hang, u.first
	if u.kind == defItem && width-hang < 30 && hang > 4 {
		// A term so long that its description would be a narrow column: the description
		// goes under it instead, indented a little deeper than the term.
		indent := len(first) - len(strings.TrimLeft(first, " "))
		return append([]string{strings.TrimRight(first, " ")}, (&unit{kind: prose, first: strings.Repeat(" ", indent+4), hang: indent + 4, text: u.text}).wrap(width)...)
	}
	lines := WrapWords(u.text, max(width-hang, 1))
	pad := strings.Repeat(" ", hang)
	for i := range lines {
		lead := pad
		if i == 0 {
			lead = first
		}
		lines[i] = lead + lines[i]
	}
	return lines
}

// WrapAfter wraps text to width columns after lead: the first line starts with lead, the others
// under the text's first column, as a command list or a definition list shows a description.
func WrapAfter(lead, text string, width int) string {
	u := unit{kind: defItem, first: lead, hang: ansi.StringWidth(lead), text: text}
	return strings.Join(u.wrap(width), "\n")
}

// WrapWords breaks text into lines of at most width columns, only at spaces: a word longer than
// the width gets a line of its own, whole. (Not ansi.Wordwrap: it also breaks at every hyphen,
// which would cut --flags, x86_64-linux and nixify-health-check in two.)
func WrapWords(text string, width int) []string {
	var lines []string
	var cur strings.Builder
	curW := 0
	for _, w := range strings.Fields(text) {
		ww := ansi.StringWidth(w)
		if curW > 0 && curW+1+ww > width {
			lines = append(lines, cur.String())
			cur.Reset()
			curW = 0
		}
		if curW > 0 {
			cur.WriteByte(' ')
			curW++
		}
		cur.WriteString(w)
		curW += ww
	}
	if curW > 0 || len(lines) == 0 {
		lines = append(lines, cur.String())
	}
	return lines
}
