package nix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Action is what an internal-json event does.
type Action string

const (
	ActionStart  Action = "start"  // an activity begins
	ActionStop   Action = "stop"   // an activity ends
	ActionResult Action = "result" // an activity reports something (a log line, a phase, progress)
	ActionMsg    Action = "msg"    // a message, errors included
)

// Activity types (the "type" of a start event), from Nix's logging.hh.
const (
	ActUnknown       = 0
	ActCopyPath      = 100
	ActFileTransfer  = 101
	ActRealise       = 102
	ActCopyPaths     = 103
	ActBuilds        = 104
	ActBuild         = 105
	ActOptimiseStore = 106
	ActVerifyPaths   = 107
	ActSubstitute    = 108
	ActQueryPathInfo = 109
	ActPostBuildHook = 110
	ActBuildWaiting  = 111
	ActFetchTree     = 112
)

// Result types (the "type" of a result event).
const (
	ResFileLinked       = 100
	ResBuildLogLine     = 101
	ResUntrustedPath    = 102
	ResCorruptedPath    = 103
	ResSetPhase         = 104
	ResProgress         = 105 // fields: done, expected, running, failed
	ResSetExpected      = 106 // fields: activity type, expected
	ResPostBuildLogLine = 107
	ResFetchStatus      = 108
)

// Field is one element of an event's "fields": Nix sends strings and integers only.
type Field struct {
	Str   string
	Int   int64
	IsStr bool
}

// UnmarshalJSON reads a string or an integer; anything else is an error.
func (f *Field) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		f.IsStr = true
		return json.Unmarshal(b, &f.Str)
	}
	return json.Unmarshal(b, &f.Int)
}

// Event is one `@nix {...}` line of `--log-format internal-json`.
type Event struct {
	Action Action  `json:"action"`
	ID     uint64  `json:"id"`
	Parent uint64  `json:"parent"` // absent in Nix 2.8
	Level  int     `json:"level"`
	Type   int     `json:"type"` // activity type (start) or result type (result)
	Text   string  `json:"text"`
	Fields []Field `json:"fields"`

	// msg events
	Msg    string `json:"msg"` // with ANSI colour codes, as Nix always sends them
	RawMsg string `json:"raw_msg"`
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

// Int returns field i as an integer, 0 when absent or a string.
func (e *Event) Int(i int) int64 {
	if i < len(e.Fields) && !e.Fields[i].IsStr {
		return e.Fields[i].Int
	}
	return 0
}

// Str returns field i as a string, "" when absent or an integer.
func (e *Event) Str(i int) string {
	if i < len(e.Fields) && e.Fields[i].IsStr {
		return e.Fields[i].Str
	}
	return ""
}

var prefix = []byte("@nix ")

// ErrNotEvent means the line is not an internal-json event (Nix also writes plain lines).
var ErrNotEvent = errors.New("not a nix event")

// ParseLine parses one stderr line of `nix --log-format internal-json`. Lines without the `@nix `
// prefix return ErrNotEvent; malformed JSON returns encoding/json's error. encoding/json keeps a
// no-op build well inside its overhead budget (BENCHMARKS.md, "nixify build").
func ParseLine(line []byte) (Event, error) {
	body, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r\n"), prefix)
	if !ok {
		return Event{}, ErrNotEvent
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return Event{}, fmt.Errorf("nix event: %w", err)
	}
	return e, nil
}
