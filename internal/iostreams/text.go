package iostreams

import "strings"

// FirstLine is the first line of a tool's output or an error, trimmed: what a one-line message
// shows of a longer one.
func FirstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}
