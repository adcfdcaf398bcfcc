package nix

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseLineRealOutput(t *testing.T) {
	e, err := ParseLine([]byte(`@nix {"action":"start","fields":["/nix/store/4yyqa8dsjggq8msc1azc778q6qlfwd7b-bad.drv","",1,1],"id":101631811125253,"level":3,"text":"building '/nix/store/4yyqa8dsjggq8msc1azc778q6qlfwd7b-bad.drv'","type":105}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.Action != ActionStart || e.ID != 101631811125253 || e.Type != ActBuild || e.Level != 3 {
		t.Fatalf("header: %+v", e)
	}
	if e.Str(0) != "/nix/store/4yyqa8dsjggq8msc1azc778q6qlfwd7b-bad.drv" || e.Int(2) != 1 || e.Str(2) != "" || e.Int(9) != 0 {
		t.Fatalf("fields: %+v", e.Fields)
	}

	e, err = ParseLine([]byte(`@nix {"action":"msg","column":11,"file":"/nix/store/x-source/syn.nix","level":0,"line":1,"msg":"\u001b[31;1merror:\u001b[0m syntax error","raw_msg":"syntax error"}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Action != ActionMsg || e.Line != 1 || e.Column != 11 || e.File != "/nix/store/x-source/syn.nix" || e.Msg != "\x1b[31;1merror:\x1b[0m syntax error" {
		t.Fatalf("msg: %+v", e)
	}
}

func TestParseLineRejects(t *testing.T) {
	if _, err := ParseLine([]byte("building '/nix/store/x.drv'...")); !errors.Is(err, ErrNotEvent) {
		t.Fatalf("plain line: %v", err)
	}
	for _, bad := range []string{
		`@nix {"action":"stop","id":1`,
		`@nix {"action":"stop","id":-1}`,
		`@nix {"action":"stop","id":1.5}`,
		`@nix {"fields":[1,true]}`,
		`@nix {"text":"\x"}`,
		`@nix {"action":"stop"} trailing`,
		`@nix [1]`,
	} {
		var se *SyntaxError
		if _, err := ParseLine([]byte(bad)); !errors.As(err, &se) {
			t.Errorf("%s: got %v, want a syntax error", bad, err)
		}
	}
}

func TestParseLineUnicode(t *testing.T) {
	e, err := ParseLine([]byte(`@nix {"text":"a\ud83d\ude00b\u00e9\ud800x\n","msg":"caf` + "\xff" + `é"}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.Text != "a😀bé\uFFFDx\n" || e.Msg != "caf\uFFFDé" {
		t.Fatalf("got %q %q", e.Text, e.Msg)
	}
}

// corpus returns every line of the real nix output kept in testdata/events.
func corpus(t testing.TB) [][]byte {
	files, _ := filepath.Glob("testdata/events/*.log")
	if len(files) == 0 {
		t.Fatal("no recorded nix output in testdata/events")
	}
	var lines [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			lines = append(lines, append([]byte(nil), sc.Bytes()...))
		}
	}
	return lines
}

func TestParseLineCorpusMatchesEncodingJSON(t *testing.T) {
	for _, l := range corpus(t) {
		got, err := ParseLine(l)
		want, werr := referenceParse(l)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%s: parser error %v, reference error %v", l, err, werr)
		}
		if err == nil && !reflect.DeepEqual(normal(got), normal(want)) {
			t.Fatalf("%s:\n got %+v\nwant %+v", l, got, want)
		}
	}
}

// FuzzParseLine checks that the parser never panics, never accepts what is not JSON, and agrees
// with a slow reference built on encoding/json. Seeds: real Nix 2.8 output (testdata/events).
func FuzzParseLine(f *testing.F) {
	for _, l := range corpus(f) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		got, err := ParseLine(line)
		if errors.Is(err, ErrNotEvent) {
			return
		}
		body := bytes.TrimRight(line, "\r\n")[len(prefix):]
		if err == nil && !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		want, werr := referenceParse(line)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: parser error %v, reference error %v", line, err, werr)
		}
		if err == nil && !reflect.DeepEqual(normal(got), normal(want)) {
			t.Fatalf("%q:\n got %+v\nwant %+v", line, got, want)
		}
	})
}

func normal(e Event) Event {
	if len(e.Fields) == 0 {
		e.Fields = nil
	}
	return e
}

// referenceParse is the slow, obviously right parser: encoding/json with exact key names.
func referenceParse(line []byte) (Event, error) {
	line = bytes.TrimRight(line, "\r\n")
	if !bytes.HasPrefix(line, prefix) {
		return Event{}, ErrNotEvent
	}
	body := bytes.TrimLeft(line[len(prefix):], " \t\r\n")
	if len(body) == 0 || body[0] != '{' {
		return Event{}, errors.New("not an object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return Event{}, err
	}
	var e Event
	var action string
	targets := map[string]any{"action": &action, "id": &e.ID, "parent": &e.Parent, "level": &e.Level, "type": &e.Type,
		"line": &e.Line, "column": &e.Column, "text": &e.Text, "msg": &e.Msg, "raw_msg": &e.RawMsg, "file": &e.File}
	for k, v := range m {
		if k == "fields" {
			var raw []json.RawMessage
			if err := json.Unmarshal(v, &raw); err != nil {
				return Event{}, err
			}
			for _, r := range raw {
				var f Field
				switch {
				case r[0] == '"':
					f.IsStr = true
					if err := json.Unmarshal(r, &f.Str); err != nil {
						return Event{}, err
					}
				case string(r) == "null":
					return Event{}, errors.New("null field")
				default:
					if err := json.Unmarshal(r, &f.Int); err != nil {
						return Event{}, err
					}
				}
				e.Fields = append(e.Fields, f)
			}
			continue
		}
		if dst, ok := targets[k]; ok {
			if err := json.Unmarshal(v, dst); err != nil {
				return Event{}, err
			}
		}
	}
	switch action {
	case "start":
		e.Action = ActionStart
	case "stop":
		e.Action = ActionStop
	case "result":
		e.Action = ActionResult
	case "msg":
		e.Action = ActionMsg
	}
	return e, nil
}

// BenchmarkParseLine reports events per second over the recorded corpus (target: over 1,000,000).
func BenchmarkParseLine(b *testing.B) {
	lines := corpus(b)
	var n, size int
	for _, l := range lines {
		size += len(l)
	}
	b.SetBytes(int64(size / len(lines)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseLine(lines[n%len(lines)]); err != nil && !errors.Is(err, ErrNotEvent) {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
