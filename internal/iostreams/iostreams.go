// Package iostreams decides how nixify talks to a person or a program: styled text on a terminal,
// plain lines when piped or when NO_COLOR is set, JSON when --output json is asked. Commands write
// through it and never check the terminal themselves.
package iostreams

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/charmbracelet/lipgloss"
	"golang.org/x/term"
)

// Format is the output format a user asked for.
type Format string

const (
	Text Format = "text"
	JSON Format = "json"
	// YAML is asked only of commands that print manifests (deploy --dry-run).
	YAML Format = "yaml"
)

// IOStreams holds the streams of one invocation and what is known about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	Format  Format
	Verbose bool

	outTTY bool
	errTTY bool
	color  bool
	ci     CI
	getenv func(string) string
	width  func() int // the terminal's columns (tests); nil: ask the terminal
}

// CI says which continuous-integration system runs us, if any, because progress looks different
// there: GitHub Actions folds groups of lines, others get periodic plain lines.
type CI int

const (
	NoCI CI = iota
	GenericCI
	GitHubActions
)

// System returns streams bound to the process's stdin, stdout and stderr.
func System() *IOStreams {
	s := &IOStreams{
		In:     os.Stdin,
		Out:    os.Stdout,
		ErrOut: os.Stderr,
		Format: Text,
		outTTY: isTerminal(os.Stdout),
		errTTY: isTerminal(os.Stderr),
		getenv: os.Getenv,
	}
	s.detect()
	return s
}

func (s *IOStreams) detect() {
	s.color = s.outTTY && s.getenv("NO_COLOR") == "" && s.getenv("TERM") != "dumb"
	switch {
	case s.getenv("GITHUB_ACTIONS") == "true":
		s.ci = GitHubActions
	case s.getenv("CI") != "":
		s.ci = GenericCI
	}
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// TerminalWidth is the width of the terminal that stdout, or else stderr, writes to: what tables
// and help texts fit. 0 when neither is a terminal.
func (s *IOStreams) TerminalWidth() int { return s.widthOf(s.Out, s.ErrOut) }

// widthOf is the width of the first terminal among ws, 0 when none is one.
func (s *IOStreams) widthOf(ws ...io.Writer) int {
	if s.width != nil {
		return s.width()
	}
	for _, w := range ws {
		if f, ok := w.(*os.File); ok {
			if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
				return cols
			}
		}
	}
	return 0
}

// WrapOut is lead and text as one paragraph for stdout: on a terminal wrapped between words to
// its width, the lines after the first under the text; elsewhere one line, as logs and scripts
// want a message.
func (s *IOStreams) WrapOut(lead, text string) string { return s.wrap(s.outTTY, lead, text) }

// WrapErr is WrapOut for stderr: warnings, errors and hints.
func (s *IOStreams) WrapErr(lead, text string) string { return s.wrap(s.errTTY, lead, text) }

func (s *IOStreams) wrap(tty bool, lead, text string) string {
	if w := s.TerminalWidth(); tty && w > 1 {
		return WrapAfter(lead, text, w-1)
	}
	return lead + text
}

// Fit is a line for stdout: on a terminal too narrow for it, its store paths and digests
// shortened (ShortStorePath; a digest to 12 hex digits) and then the line clipped; elsewhere the line whole.
func (s *IOStreams) Fit(line string) string {
	w := s.TerminalWidth() - 1
	if !s.outTTY || w <= 0 || lipgloss.Width(line) <= w {
		return line
	}
	return Clip(shorten(line), w)
}

// DisableColor turns styling off (--no-color).
func (s *IOStreams) DisableColor() { s.color = false }

// IsTTY reports whether stdout is a terminal.
func (s *IOStreams) IsTTY() bool { return s.outTTY }

// IsErrTTY reports whether stderr is a terminal, where live progress is drawn.
func (s *IOStreams) IsErrTTY() bool { return s.errTTY }

// WantsJSON reports whether the user asked for JSON.
func (s *IOStreams) WantsJSON() bool { return s.Format == JSON }

// WriteJSON writes v as indented JSON on stdout: the one exporter every command uses.
func (s *IOStreams) WriteJSON(v any) error {
	enc := json.NewEncoder(s.Out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Printf writes to stdout.
func (s *IOStreams) Printf(format string, a ...any) { fmt.Fprintf(s.Out, format, a...) }

// Errorf writes to stderr.
func (s *IOStreams) Errorf(format string, a ...any) { fmt.Fprintf(s.ErrOut, format, a...) }

// Styles returns the palette, plain when colour is off.
func (s *IOStreams) Styles() Styles { return newStyles(s.color) }

// Styles is the small palette nixify uses; every style is a no-op without colour.
type Styles struct {
	Bold, Faint, OK, Warn, Fail, Accent lipgloss.Style
}

func newStyles(color bool) Styles {
	if !color {
		p := lipgloss.NewStyle()
		return Styles{p, p, p, p, p, p}
	}
	// Colour was decided from our streams (either may be the terminal); the renderer must not
	// decide again from os.Stdout alone, or a live view on stderr loses its colours.
	r := lipgloss.NewRenderer(os.Stdout)
	r.SetColorProfile(ansi16)
	return Styles{
		Bold:   r.NewStyle().Bold(true),
		Faint:  r.NewStyle().Faint(true),
		OK:     r.NewStyle().Foreground(lipgloss.Color("2")),
		Warn:   r.NewStyle().Foreground(lipgloss.Color("3")),
		Fail:   r.NewStyle().Foreground(lipgloss.Color("1")).Bold(true),
		Accent: r.NewStyle().Foreground(lipgloss.Color("6")),
	}
}

// ansi16 is termenv.ANSI (the 16 basic colours the palette uses), spelled as its value so that
// termenv stays an indirect dependency.
const ansi16 = 2

// Status styles a word by its meaning: ok/pass/healthy green, warn yellow, anything failing red.
func (st Styles) Status(word string) string {
	switch word {
	case "ok", "pass", "healthy", "running", "ready", "yes":
		return st.OK.Render(word)
	case "warn", "warning", "starting", "skipped", "disabled":
		return st.Warn.Render(word)
	case "fail", "failed", "unhealthy", "error", "no", "missing":
		return st.Fail.Render(word)
	}
	return word
}
