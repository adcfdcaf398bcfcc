package iostreams

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/lipgloss"
)

// Table prints rows: aligned columns under a bold header on a terminal, tab-separated lines without
// a header when piped, so that `cut -f` and `awk -F'\t'` work on it.
//
// On a terminal the table fits the terminal's width, because a line the terminal wraps splits a
// word or a path in two and breaks the columns. When it is too wide, store paths and digests are
// shortened first (ShortStorePath; a digest to 12 hex digits), then the widest columns are narrowed and their
// cells clipped with …, down to their header's width. A column chosen with WrapColumn wraps its
// cells between words instead, on rows of their own under the column. Piped, every cell is whole.
type Table struct {
	s      *IOStreams
	header []string
	rows   [][]string
	wrap   int // the column whose cells wrap; -1: none
}

// NewTable starts a table with the given column names.
func (s *IOStreams) NewTable(header ...string) *Table { return &Table{s: s, header: header, wrap: -1} }

// Row adds one row; cells may carry styling, which is measured by its visible width.
func (t *Table) Row(cells ...string) { t.rows = append(t.rows, cells) }

// WrapColumn makes column i wrap its cells between words instead of clipping them: for prose a
// reader needs whole, such as doctor's detail. Its cells should be plain text.
func (t *Table) WrapColumn(i int) *Table {
	t.wrap = i
	return t
}

// Render writes the table to stdout.
func (t *Table) Render() {
	if !t.s.IsTTY() {
		for _, r := range t.rows {
			fmt.Fprintln(t.s.Out, strings.Join(r, "\t"))
		}
		return
	}
	for _, l := range t.Lines() {
		fmt.Fprintln(t.s.Out, l)
	}
}

// Lines returns the table as a terminal shows it: a bold header and aligned columns, styled cells
// kept, fitted to the terminal's width. Live views redraw these lines in place.
func (t *Table) Lines() []string {
	// The last column stays free, as in a live block: a line that fills it makes some terminals
	// wrap.
	return t.fit(t.s.TerminalWidth() - 1)
}

// minColumn is how narrow fitting makes a column at most: its header's width, and no less than
// this, so that a clipped cell still says something.
const minColumn = 8

func (t *Table) fit(width int) []string {
	n := len(t.header)
	rows := make([][]string, len(t.rows))
	for i, r := range t.rows {
		rows[i] = make([]string, n)
		copy(rows[i], r)
	}
	widths := t.widths(rows)
	if width > 0 && total(widths) > width {
		for _, r := range rows {
			for i, c := range r {
				r[i] = shorten(c)
			}
		}
		widths = t.widths(rows)
	}
	if width > 0 {
		floor := make([]int, n)
		for i, w := range widths {
			floor[i] = min(w, max(lipgloss.Width(t.header[i]), minColumn))
			if i == t.wrap {
				floor[i] = min(w, 3*minColumn)
			}
		}
		for total(widths) > width {
			widest := -1
			for i, w := range widths {
				if w > floor[i] && (widest < 0 || w > widths[widest]) {
					widest = i
				}
			}
			if widest < 0 {
				break // narrow as it can be: each line is clipped below
			}
			widths[widest]--
		}
	}
	st := t.s.Styles()
	header := make([]string, n)
	for i, h := range t.header {
		if h != "" {
			header[i] = st.Bold.Render(strings.ToUpper(Clip(h, widths[i])))
		}
	}
	out := []string{t.line(header, widths, width)}
	for _, r := range rows {
		var more []string // the wrap column's further lines
		for i, c := range r {
			if i == t.wrap {
				wrapped := WrapWords(c, widths[i])
				r[i], more = wrapped[0], wrapped[1:]
			}
			r[i] = Clip(r[i], widths[i])
		}
		out = append(out, t.line(r, widths, width))
		for _, m := range more {
			cells := make([]string, n)
			cells[t.wrap] = Clip(m, widths[t.wrap])
			out = append(out, t.line(cells, widths, width))
		}
	}
	return out
}

// widths is each column's natural width: its widest cell or header.
func (t *Table) widths(rows [][]string) []int {
	widths := make([]int, len(t.header))
	for i, h := range t.header {
		widths[i] = lipgloss.Width(h)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], lipgloss.Width(c))
		}
	}
	return widths
}

// total is a table's width: its columns and the two spaces between each.
func total(widths []int) int {
	sum := 2 * max(len(widths)-1, 0)
	for _, w := range widths {
		sum += w
	}
	return sum
}

func (t *Table) line(cells []string, widths []int, width int) string {
	var b strings.Builder
	pad := 0
	for i, c := range cells {
		if c == "" {
			pad += widths[i] + 2
			continue
		}
		b.WriteString(strings.Repeat(" ", pad))
		b.WriteString(c)
		pad = widths[i] - lipgloss.Width(c) + 2
	}
	return Clip(b.String(), width)
}
