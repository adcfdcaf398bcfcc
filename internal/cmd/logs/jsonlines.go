package logs

import (
	"encoding/json"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/nixify/nixify/internal/container"
)

// Line is one log line of `nixify logs -o json`, written as JSON Lines: one object a line, as
// they come, so that -f can be piped into jq.
type Line struct {
	Time    string `json:"time,omitempty"`    // the engine's RFC 3339 time stamp
	Stream  string `json:"stream"`            // stdout or stderr
	Service string `json:"service,omitempty"` // the init's prefix: postgres, redis, garage, health, init
	Message string `json:"message"`
}

// jsonLines turns one stream of the container's logs (with the engine's time stamps) into Lines:
// container.Logs writes one whole line a Write.
type jsonLines struct {
	mu     *sync.Mutex // shared by stdout's and stderr's writers: they write to one encoder
	enc    *json.Encoder
	stream string
}

// newJSONLines returns the stdout and stderr writers of one JSON Lines output.
func newJSONLines(w io.Writer) (stdout, stderr *jsonLines) {
	mu, enc := &sync.Mutex{}, json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &jsonLines{mu: mu, enc: enc, stream: "stdout"}, &jsonLines{mu: mu, enc: enc, stream: "stderr"}
}

func (j *jsonLines) Write(line []byte) (int, error) {
	l := Line{Stream: j.stream, Message: strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r")}
	if stamp, rest, ok := strings.Cut(l.Message, " "); ok {
		if _, err := time.Parse(time.RFC3339Nano, stamp); err == nil {
			l.Time, l.Message = stamp, rest
		}
	}
	for _, s := range container.Services {
		if rest, ok := strings.CutPrefix(l.Message, s+" | "); ok {
			l.Service, l.Message = s, rest
			break
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.enc.Encode(l); err != nil {
		return 0, err
	}
	return len(line), nil
}
