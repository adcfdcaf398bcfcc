package nix

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
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
		`@nix {"fields":[1,[2]]}`,
		`@nix {"text":"\x"}`,
		`@nix {"action":"stop"} trailing`,
		`@nix [1]`,
	} {
		if _, err := ParseLine([]byte(bad)); err == nil || errors.Is(err, ErrNotEvent) {
			t.Errorf("%s: got %v, want a JSON error", bad, err)
		}
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
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines = append(lines, append([]byte(nil), sc.Bytes()...))
		}
	}
	return lines
}

// TestParseLineCorpus: every event of real Nix 2.8 output parses, with an action nixify knows.
func TestParseLineCorpus(t *testing.T) {
	n := 0
	for _, l := range corpus(t) {
		e, err := ParseLine(l)
		if errors.Is(err, ErrNotEvent) {
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		switch e.Action {
		case ActionStart, ActionStop, ActionResult, ActionMsg:
		default:
			t.Fatalf("%s: action %q", l, e.Action)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no events in the corpus")
	}
}

// BenchmarkParseLine reports events per second over the recorded corpus.
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
