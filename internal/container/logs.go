package container

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/nixify/nixify/internal/engine"
)

// Services are the prefixes the init puts on log lines ("redis | ..."): its services, the health
// server and the init itself.
var Services = []string{"postgres", "redis", "garage", "health", "init"}

// LogOptions choose the container's log lines.
type LogOptions struct {
	engine.LogOptions
	Service string // only lines of this service; empty for all
}

// Logs copies the container's logs, stdout to stdout and stderr to stderr, keeping only the
// service's lines when one is named.
func Logs(ctx context.Context, eng engine.Engine, name string, opts LogOptions, stdout, stderr io.Writer) error {
	if opts.Service != "" && !slices.Contains(Services, opts.Service) {
		return fmt.Errorf("unknown service %q: accepted: %s", opts.Service, strings.Join(Services, ", "))
	}
	if opts.Service == "" {
		return eng.ContainerLogs(ctx, name, opts.LogOptions, stdout, stderr)
	}
	// The engine counts --tail over every line; the user means the service's last lines. Without
	// -f, read everything and keep the service's last N of each stream.
	if n, err := strconv.Atoi(opts.Tail); err == nil && !opts.Follow {
		opts.Tail = "all"
		outTail, errTail := &tailWriter{w: stdout, n: n}, &tailWriter{w: stderr, n: n}
		out, errOut := NewServiceFilter(outTail, opts.Service), NewServiceFilter(errTail, opts.Service)
		err := eng.ContainerLogs(ctx, name, opts.LogOptions, out, errOut)
		out.Flush()
		errOut.Flush()
		outTail.flush()
		errTail.flush()
		return err
	}
	out, errOut := NewServiceFilter(stdout, opts.Service), NewServiceFilter(stderr, opts.Service)
	err := eng.ContainerLogs(ctx, name, opts.LogOptions, out, errOut)
	out.Flush()
	errOut.Flush()
	return err
}

// tailWriter keeps the last n whole lines written to it (ServiceFilter writes whole lines).
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

// ServiceFilter passes on whole lines that carry one service's prefix. The engine hands out logs
// in frames that need not end at a line's end, so partial lines wait for their rest.
type ServiceFilter struct {
	w       io.Writer
	prefix  []byte
	partial []byte
}

// NewServiceFilter writes to w the lines of service.
func NewServiceFilter(w io.Writer, service string) *ServiceFilter {
	return &ServiceFilter{w: w, prefix: []byte(service + " | ")}
}

func (f *ServiceFilter) Write(p []byte) (int, error) {
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
func (f *ServiceFilter) Flush() error {
	if len(f.partial) == 0 {
		return nil
	}
	line := append(f.partial, '\n')
	f.partial = nil
	return f.emit(line)
}

func (f *ServiceFilter) emit(line []byte) error {
	// With --timestamps the engine puts the time first: "2024-...Z redis | ...".
	body := line
	if sp := bytes.IndexByte(line, ' '); sp > 0 && !bytes.HasPrefix(line, f.prefix) && looksLikeTime(line[:sp]) {
		body = line[sp+1:]
	}
	if !bytes.HasPrefix(body, f.prefix) {
		return nil
	}
	_, err := f.w.Write(line)
	return err
}

func looksLikeTime(b []byte) bool {
	return len(b) >= 20 && b[4] == '-' && b[10] == 'T'
}
