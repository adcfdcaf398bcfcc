package iostreams

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/lipgloss"
)

// Table prints rows: aligned columns under a bold header on a terminal, tab-separated lines without
// a header when piped, so that `cut -f` and `awk -F'\t'` work on it.
type Table struct {
	s      *IOStreams
	header []string
	rows   [][]string
}

// NewTable starts a table with the given column names.
func (s *IOStreams) NewTable(header ...string) *Table { return &Table{s: s, header: header} }

// Row adds one row; cells may carry styling, which is measured by its visible width.
func (t *Table) Row(cells ...string) { t.rows = append(t.rows, cells) }

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
// kept. Live views redraw these lines in place.
func (t *Table) Lines() []string {
	widths := make([]int, len(t.header))
	for i, h := range t.header {
		widths[i] = lipgloss.Width(h)
	}
	for _, r := range t.rows {
		for i := range widths {
			if i < len(r) {
				widths[i] = max(widths[i], lipgloss.Width(r[i]))
			}
		}
	}
	st := t.s.Styles()
	var out []string
	line := func(cells []string, style func(string) string) {
		var b strings.Builder
		for i := range widths {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			b.WriteString(style(c))
			if i < len(widths)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-lipgloss.Width(c)+2))
			}
		}
		out = append(out, strings.TrimRight(b.String(), " "))
	}
	line(t.header, func(c string) string { return st.Bold.Render(strings.ToUpper(c)) })
	for _, r := range t.rows {
		line(r, func(c string) string { return c })
	}
	return out
}
