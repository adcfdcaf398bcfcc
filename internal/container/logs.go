package container

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/nixify/nixify/internal/engine"
)

// Services are the prefixes the init puts on log lines ("redis | ..."): its services, the health
// server and the init itself.
var Services = []string{"postgres", "redis", "garage", "health", "init"}

// LogOptions choose the container's log lines.
type LogOptions struct {
	engine.LogOptions
	Services []string // only these services' lines; none for all
}

// Logs copies the container's logs, stdout to stdout and stderr to stderr, in whole lines (each
// Write is one line, so the caller may decorate them), keeping only the services' lines when some
// are named (names of Services: the caller checks them). The tail counts the lines the user sees:
// the services' last lines, not the container's (the engine counts before any filter, and a
// followed --tail 3 of a quiet service would show nothing).
func Logs(ctx context.Context, eng engine.Engine, name string, opts LogOptions, stdout, stderr io.Writer) error {
	n, err := strconv.Atoi(opts.Tail)
	if len(opts.Services) == 0 || err != nil {
		return copyLogs(ctx, eng, name, opts.LogOptions, opts.Services, &stamp{}, "", stdout, stderr)
	}
	// Past lines first: all of them, filtered, the last n of each stream kept.
	past := opts.LogOptions
	past.Follow, past.Tail, past.Timestamps = false, "all", true
	outTail, errTail := &tailWriter{w: stdout, n: n}, &tailWriter{w: stderr, n: n}
	last := &stamp{strip: !opts.Timestamps}
	if err := copyLogs(ctx, eng, name, past, opts.Services, last, "", outTail, errTail); err != nil {
		return err
	}
	outTail.flush()
	errTail.flush()
	if !opts.Follow {
		return nil
	}
	// Then what comes, from the last line read on: the engine's --since is inclusive, so the lines
	// of that instant are skipped by their stamp.
	next := opts.LogOptions
	next.Tail, next.Timestamps = "all", true
	after := last.seen
	if after != "" {
		next.Since = sinceOf(after)
	}
	return copyLogs(ctx, eng, name, next, opts.Services, last, after, stdout, stderr)
}

// copyLogs is one engine call through the line filters.
func copyLogs(ctx context.Context, eng engine.Engine, name string, opts engine.LogOptions, services []string, st *stamp, after string, stdout, stderr io.Writer) error {
	out := &LineFilter{w: stdout, services: services, stamp: st, after: after}
	errOut := &LineFilter{w: stderr, services: services, stamp: st, after: after}
	err := eng.ContainerLogs(ctx, name, opts, out, errOut)
	out.Flush()
	errOut.Flush()
	return err
}

// stamp is the engine's time stamp of the last line read, shared by a call's two streams; strip
// removes the stamps nixify asked for itself.
type stamp struct {
	seen  string
	strip bool
}

// sinceOf turns an engine time stamp into --since's Unix form, which keeps the nanoseconds.
func sinceOf(ts string) string {
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// tailWriter keeps the last n whole lines written to it (LineFilter writes whole lines).
type tailWriter struct {
	w     io.Writer
	n     int
	lines [][]byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	if t.n == 0 {
		return len(p), nil
	}
	t.lines = append(t.lines, bytes.Clone(p))
	if len(t.lines) > t.n {
		t.lines = t.lines[len(t.lines)-t.n:]
	}
	return len(p), nil
}

func (t *tailWriter) flush() {
	for _, l := range t.lines {
		t.w.Write(l)
	}
}

// LineFilter passes on whole lines, one Write each, of the chosen services (all when none is
// chosen). The engine hands out logs in frames that need not end at a line's end, so partial
// lines wait for their rest.
type LineFilter struct {
	w        io.Writer
	services []string
	stamp    *stamp
	after    string // skip lines stamped at or before this
	partial  []byte
}

func (f *LineFilter) Write(p []byte) (int, error) {
	data := p
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			f.partial = append(f.partial, data...)
			break
		}
		line := data[:i+1]
		if len(f.partial) > 0 {
			line = append(f.partial, line...)
			f.partial = f.partial[:0]
		}
		if err := f.emit(line); err != nil {
			return 0, err
		}
		data = data[i+1:]
	}
	return len(p), nil
}

// Flush writes a last line that had no newline.
func (f *LineFilter) Flush() error {
	if len(f.partial) == 0 {
		return nil
	}
	line := append(f.partial, '\n')
	f.partial = nil
	return f.emit(line)
}

func (f *LineFilter) emit(line []byte) error {
	// With --timestamps the engine puts the time first: "2024-...Z redis | ...".
	body := line
	if sp := bytes.IndexByte(line, ' '); sp > 0 && looksLikeTime(line[:sp]) {
		ts := string(line[:sp])
		if f.after != "" && !later(ts, f.after) {
			return nil
		}
		f.stamp.seen = ts
		body = line[sp+1:]
		if f.stamp.strip {
			line = body
		}
	}
	if len(f.services) > 0 && !slices.ContainsFunc(f.services, func(s string) bool { return bytes.HasPrefix(body, []byte(s+" | ")) }) {
		return nil
	}
	_, err := f.w.Write(line)
	return err
}

// later reports whether engine time stamp a is after b.
func later(a, b string) bool {
	ta, err1 := time.Parse(time.RFC3339Nano, a)
	tb, err2 := time.Parse(time.RFC3339Nano, b)
	if err1 != nil || err2 != nil {
		return a > b
	}
	return ta.After(tb)
}

func looksLikeTime(b []byte) bool {
	return len(b) >= 20 && b[4] == '-' && b[10] == 'T'
}
