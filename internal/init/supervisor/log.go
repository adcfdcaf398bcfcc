package supervisor

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/nixify/nixify/internal/init/redact"
)

// maxLine is the longest line passed through whole; longer output is cut into pieces of this size
// so that a child writing without newlines cannot grow the init's memory.
const maxLine = 16 << 10

// Log merges the init's own messages and every child's output into one stream, line by line, each
// line prefixed with its source ("redis | ..."). One goroutine writes; children's lines reach it
// through a bounded queue and are dropped (and counted) when it is full, so a child that floods its
// output, or a stdout nobody reads, never blocks a child or the supervisor.
type Log struct {
	out   io.Writer
	lines chan string
	done  chan struct{}

	mu      sync.RWMutex // guards closed against sends racing with Close, and secrets
	closed  bool
	secrets []string
}

// Redact makes the log hide each of the secrets wherever a child prints one (package redact), a
// second line of defence: a service that echoes a configuration line holding a password (Redis
// does on a parse error) must not put it in `docker logs`.
func (l *Log) Redact(secrets ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range secrets {
		if s != "" {
			l.secrets = append(l.secrets, s)
		}
	}
}

// NewLog starts the writer goroutine; Close flushes and stops it.
func NewLog(out io.Writer) *Log {
	l := &Log{out: out, lines: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for line := range l.lines {
			io.WriteString(l.out, line)
		}
	}()
	return l
}

// Printf writes one line of the init's own (or a named service's) message. Its own messages are
// few and matter (they say why the container stops), so they wait for room instead of dropping.
func (l *Log) Printf(source, format string, args ...any) {
	l.send(source+" | "+fmt.Sprintf(format, args...)+"\n", true)
}

// send queues a line, waiting for room only when wait is set; it reports whether the line was
// queued. Lines after Close (a straggler of a stopped child) are dropped.
func (l *Log) send(line string, wait bool) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return false
	}
	line = redact.String(line, l.secrets...)
	if wait {
		l.lines <- line
		return true
	}
	select {
	case l.lines <- line:
		return true
	default:
		return false
	}
}

// redacted is s with the secrets hidden, for a child's words that travel beyond the log (the
// reason a service exited, on the board and in the health output).
func (l *Log) redacted(s string) string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return redact.String(s, l.secrets...)
}

// Close waits until every queued line is written.
func (l *Log) Close() {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.lines)
	}
	l.mu.Unlock()
	<-l.done
}

// copyLines reads r until EOF, queueing each line with the source's prefix. It returns when the
// last writer of the pipe (the child and anything it left behind) has closed it, with the line
// that says why a failed step failed: the last one reporting an error (initdb's "initdb: error:
// ...", before its clean-up lines), else the last non-blank one.
func (l *Log) copyLines(source string, r io.Reader) string {
	br := bufio.NewReaderSize(r, maxLine)
	dropped := 0
	var last, lastError string
	for {
		chunk, err := br.ReadSlice('\n')
		if t := strings.TrimSpace(string(chunk)); t != "" {
			last = t
			if strings.Contains(t, "error:") || strings.Contains(t, "FATAL:") || strings.Contains(t, "ERROR:") {
				lastError = t
			}
		}
		if len(chunk) > 0 {
			line := source + " | " + string(chunk)
			if chunk[len(chunk)-1] != '\n' {
				line += "\n"
			}
			if dropped > 0 {
				if l.send(fmt.Sprintf("%s | [lines dropped, output too fast: %d]\n", source, dropped), false) {
					dropped = 0
				}
			}
			if !l.send(line, false) {
				dropped++
			}
		}
		if err != nil && err != bufio.ErrBufferFull {
			return cmp.Or(lastError, last)
		}
	}
}
