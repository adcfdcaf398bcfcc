package nix

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Action is what an internal-json event does.
type Action uint8

const (
	ActionUnknown Action = iota
	ActionStart          // an activity begins
	ActionStop           // an activity ends
	ActionResult         // an activity reports something (a log line, a phase, progress)
	ActionMsg            // a message, errors included
)

func (a Action) String() string {
	switch a {
	case ActionStart:
		return "start"
	case ActionStop:
		return "stop"
	case ActionResult:
		return "result"
	case ActionMsg:
		return "msg"
	}
	return "unknown"
}

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

// Event is one `@nix {...}` line of `--log-format internal-json`.
type Event struct {
	Action Action
	ID     uint64
	Parent uint64 // absent in Nix 2.8
	Level  int
	Type   int // activity type (start) or result type (result)
	Text   string
	Fields []Field

	// msg events
	Msg    string // with ANSI colour codes, as Nix always sends them
	RawMsg string
	File   string
	Line   int
	Column int
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
// prefix return ErrNotEvent; malformed JSON returns a *SyntaxError. The parser is hand-written for
// this one shape because a build's log can hold millions of events and encoding/json would be the
// slowest part of the live view.
func ParseLine(line []byte) (Event, error) {
	line = bytes.TrimRight(line, "\r\n")
	if !bytes.HasPrefix(line, prefix) {
		return Event{}, ErrNotEvent
	}
	p := parser{b: line, i: len(prefix)}
	var e Event
	if err := p.event(&e); err != nil {
		return Event{}, err
	}
	return e, nil
}

// SyntaxError is a malformed event, with the byte offset of the problem.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("nix event at byte %d: %s", e.Offset, e.Msg) }

type parser struct {
	b []byte
	i int
}

func (p *parser) fail(msg string) error { return &SyntaxError{Offset: p.i, Msg: msg} }

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) expect(c byte) error {
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != c {
		return p.fail("expected " + strconv.QuoteRune(rune(c)))
	}
	p.i++
	return nil
}

func (p *parser) event(e *Event) error {
	if err := p.expect('{'); err != nil {
		return err
	}
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
	} else {
		for {
			p.ws()
			key, err := p.rawString()
			if err != nil {
				return err
			}
			if err := p.expect(':'); err != nil {
				return err
			}
			if err := p.member(e, key); err != nil {
				return err
			}
			p.ws()
			if p.i >= len(p.b) {
				return p.fail("unterminated object")
			}
			if p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.b[p.i] == '}' {
				p.i++
				break
			}
			return p.fail("expected ',' or '}'")
		}
	}
	p.ws()
	if p.i != len(p.b) {
		return p.fail("trailing data after the event")
	}
	return nil
}

func (p *parser) member(e *Event, key []byte) error {
	p.ws()
	var err error
	switch string(key) { // no allocation: the compiler recognises this conversion
	case "action":
		var s string
		var ok bool
		if s, ok, err = p.optString(); err == nil && ok {
			switch s {
			case "start":
				e.Action = ActionStart
			case "stop":
				e.Action = ActionStop
			case "result":
				e.Action = ActionResult
			case "msg":
				e.Action = ActionMsg
			default:
				e.Action = ActionUnknown
			}
		}
	case "id":
		e.ID, err = p.optUint()
	case "parent":
		e.Parent, err = p.optUint()
	case "level":
		e.Level, err = p.optInt()
	case "type":
		e.Type, err = p.optInt()
	case "line":
		e.Line, err = p.optInt()
	case "column":
		e.Column, err = p.optInt()
	case "text":
		err = p.optStringInto(&e.Text)
	case "msg":
		err = p.optStringInto(&e.Msg)
	case "raw_msg":
		err = p.optStringInto(&e.RawMsg)
	case "file":
		err = p.optStringInto(&e.File)
	case "fields":
		e.Fields, err = p.fields(e.Fields)
	default:
		err = p.skip(0)
	}
	return err
}

// null leaves a member at its zero value, as encoding/json does.
func (p *parser) null() bool {
	if bytes.HasPrefix(p.b[p.i:], []byte("null")) {
		p.i += 4
		return true
	}
	return false
}

func (p *parser) optStringInto(dst *string) error {
	s, ok, err := p.optString()
	if ok {
		*dst = s
	}
	return err
}

func (p *parser) optString() (string, bool, error) {
	if p.null() {
		return "", false, nil
	}
	raw, err := p.rawString()
	if err != nil {
		return "", false, err
	}
	return string(raw), true, nil
}

func (p *parser) optUint() (uint64, error) {
	if p.null() {
		return 0, nil
	}
	start := p.i
	if err := p.number(); err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(string(p.b[start:p.i]), 10, 64)
	if err != nil {
		return 0, &SyntaxError{Offset: start, Msg: "expected an unsigned integer"}
	}
	return v, nil
}

func (p *parser) optInt() (int, error) {
	if p.null() {
		return 0, nil
	}
	v, err := p.int64()
	return int(v), err
}

func (p *parser) int64() (int64, error) {
	start := p.i
	if err := p.number(); err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
	if err != nil {
		return 0, &SyntaxError{Offset: start, Msg: "expected an integer"}
	}
	return v, nil
}

// number consumes a JSON number and checks its grammar.
func (p *parser) number() error {
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9':
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
		}
	default:
		p.i = start
		return p.fail("expected a number")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if !p.digits() {
			return p.fail("expected digits after '.'")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if !p.digits() {
			return p.fail("expected digits in the exponent")
		}
	}
	return nil
}

func (p *parser) digits() bool {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}

func (p *parser) fields(buf []Field) ([]Field, error) {
	if p.null() {
		return nil, nil
	}
	if err := p.expect('['); err != nil {
		return nil, err
	}
	out := buf[:0]
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return out, nil
	}
	for {
		p.ws()
		if p.i >= len(p.b) {
			return nil, p.fail("unterminated fields")
		}
		if p.b[p.i] == '"' {
			raw, err := p.rawString()
			if err != nil {
				return nil, err
			}
			out = append(out, Field{Str: string(raw), IsStr: true})
		} else {
			v, err := p.int64()
			if err != nil {
				return nil, err
			}
			out = append(out, Field{Int: v})
		}
		p.ws()
		if p.i >= len(p.b) {
			return nil, p.fail("unterminated fields")
		}
		if p.b[p.i] == ',' {
			p.i++
			continue
		}
		if p.b[p.i] == ']' {
			p.i++
			return out, nil
		}
		return nil, p.fail("expected ',' or ']'")
	}
}

// rawString reads a JSON string and returns its decoded bytes. Without escapes and with valid
// UTF-8 it returns a slice of the input; otherwise a decoded copy, with invalid bytes and lone
// surrogates replaced by U+FFFD as encoding/json does.
func (p *parser) rawString() ([]byte, error) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, p.fail("expected a string")
	}
	p.i++
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := p.b[start:p.i]
			p.i++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		p.i++
	}
	out := make([]byte, 0, p.i-start+16)
	out = append(out, p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return out, nil
		case c < 0x20:
			return nil, p.fail("control character in string")
		case c == '\\':
			p.i++
			if p.i >= len(p.b) {
				return nil, p.fail("unterminated escape")
			}
			esc := p.b[p.i]
			p.i++
			switch esc {
			case '"', '\\', '/':
				out = append(out, esc)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return nil, p.fail("bad \\u escape")
				}
				if utf16.IsSurrogate(r) {
					// A high surrogate followed by \u low surrogate is one rune; anything else is U+FFFD.
					save := p.i
					if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
						p.i += 2
						if r2, ok := p.hex4(); ok {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								out = utf8.AppendRune(out, dec)
								continue
							}
						}
					}
					p.i = save
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, p.fail("bad escape")
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, p.b[p.i:p.i+size]...)
			}
			p.i += size
		}
	}
	return nil, p.fail("unterminated string")
}

func (p *parser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

// skip consumes any JSON value of a member nixify does not read (depth-limited).
func (p *parser) skip(depth int) error {
	if depth > 64 {
		return p.fail("nested too deeply")
	}
	p.ws()
	if p.i >= len(p.b) {
		return p.fail("expected a value")
	}
	switch c := p.b[p.i]; {
	case c == '"':
		_, err := p.rawString()
		return err
	case c == '{' || c == '[':
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		p.i++
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == closing {
			p.i++
			return nil
		}
		for {
			if c == '{' {
				p.ws()
				if _, err := p.rawString(); err != nil {
					return err
				}
				if err := p.expect(':'); err != nil {
					return err
				}
			}
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			p.ws()
			if p.i >= len(p.b) {
				return p.fail("unterminated value")
			}
			if p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.b[p.i] == closing {
				p.i++
				return nil
			}
			return p.fail("expected ',' or a closing bracket")
		}
	case c == 't':
		return p.word("true")
	case c == 'f':
		return p.word("false")
	case c == 'n':
		return p.word("null")
	default:
		return p.number()
	}
}

func (p *parser) word(w string) error {
	if !bytes.HasPrefix(p.b[p.i:], []byte(w)) {
		return p.fail("expected a value")
	}
	p.i += len(w)
	return nil
}
