package iostreams

import "bytes"

// What tests of any package need to play a terminal or a pipe: no command calls these.

// Test returns streams writing to buffers, as a pipe would; tests can turn the terminal on.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	s := &IOStreams{In: in, Out: out, ErrOut: errOut, Format: Text, getenv: func(string) string { return "" }}
	return s, in, out, errOut
}

// SetTTY marks stdout and stderr as terminals (or not); colour follows unless disabled.
func (s *IOStreams) SetTTY(tty bool) {
	s.outTTY, s.errTTY, s.color = tty, tty, tty
}

// SetGetenv replaces the environment lookup (tests) and re-detects colour and CI.
func (s *IOStreams) SetGetenv(getenv func(string) string) {
	s.getenv = getenv
	s.detect()
}

// SetWidth fixes the terminal's width that live blocks clip to (tests).
func (s *IOStreams) SetWidth(cols int) { s.width = func() int { return cols } }
