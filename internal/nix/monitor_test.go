package nix

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"
)

// replay feeds a recorded nix output to a monitor, one second apart per event.
func replay(t *testing.T, m *Monitor, file string) time.Time {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	now := time.Unix(1000, 0)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		e, err := ParseLine(sc.Bytes())
		if err != nil {
			continue
		}
		now = now.Add(time.Second)
		m.Handle(&e, now)
	}
	return now
}

func TestMonitorSuccessfulBuild(t *testing.T) {
	m := NewMonitor()
	var started, logs []string
	var stopped []time.Duration
	m.OnStart = func(a Activity) { started = append(started, a.Name) }
	m.OnStop = func(a Activity, d time.Duration) { stopped = append(stopped, d) }
	m.OnLog = func(drv, line string) { logs = append(logs, line) }
	replay(t, m, "testdata/events/ok.log")
	if len(started) != 1 || started[0] != "ok" {
		t.Fatalf("started %v", started)
	}
	// The build started at event 12 and stopped at event 23 of the recording.
	if f := m.Status().Finished[0]; len(stopped) != 1 || stopped[0] != 11*time.Second || f.Failed || !f.Built {
		t.Fatalf("stopped %v", stopped)
	}
	if strings.Join(logs, "|") != "hello|-e red" {
		t.Fatalf("logs %q (ANSI must be removed)", logs)
	}
	s := m.Status()
	if s.BuildsDone != 1 || s.BuildsExpected != 1 || len(s.Running) != 0 {
		t.Fatalf("status %+v", s)
	}
}

func TestMonitorFailedBuildKeepsTail(t *testing.T) {
	m := NewMonitor()
	m.TailLines = 5
	f, err := os.Open("testdata/events/bad.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	now := time.Unix(1000, 0)
	_, errs := readEvents(f, func(e *Event) { now = now.Add(time.Second); m.Handle(e, now) })
	if len(errs) != 1 || !strings.Contains(errs[0].Text, "failed with exit code 3") || strings.Contains(errs[0].Text, "\x1b") {
		t.Fatalf("errors %+v", errs)
	}
	e := classify(errs[0])
	if e.Kind != BuilderFailure || !strings.HasSuffix(e.Drv, "-bad.drv") {
		t.Fatalf("classified %+v", e)
	}
	tail := m.Tail(e.Drv)
	if strings.Join(tail, ",") != "line 8,line 9,line 10,line 11,line 12" {
		t.Fatalf("tail %q", tail)
	}
	if s := m.Status(); s.BuildsFailed != 1 || len(s.Finished) != 1 || !s.Finished[0].Failed {
		t.Fatalf("failed count %+v", s)
	}
}

func TestMonitorRunningBuildPhaseAndDownloads(t *testing.T) {
	m := NewMonitor()
	now := time.Unix(0, 0)
	ev := func(line string) {
		e, err := ParseLine([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
		m.Handle(&e, now)
	}
	ev(`@nix {"action":"start","id":1,"level":0,"text":"","type":102}`)
	ev(`@nix {"action":"start","id":2,"level":0,"text":"","type":104}`)
	ev(`@nix {"action":"result","fields":[101,5000],"id":1,"type":106}`)
	ev(`@nix {"action":"result","fields":[0,2,1,0],"id":2,"type":105}`)
	ev(`@nix {"action":"start","fields":["/nix/store/aaa-redis-7.2.drv","",1,1],"id":3,"level":3,"text":"building","type":105}`)
	ev(`@nix {"action":"result","fields":["buildPhase"],"id":3,"type":104}`)
	ev(`@nix {"action":"start","fields":["https://cache/nar/x.nar.xz"],"id":4,"level":4,"text":"downloading","type":101}`)
	ev(`@nix {"action":"result","fields":[1200,5000,0,0],"id":4,"type":105}`)
	s := m.Status()
	if len(s.Running) != 2 || s.Running[0].Name != "redis-7.2" || s.Running[0].Phase != "buildPhase" || s.Running[0].Started != time.Unix(5, 0) {
		t.Fatalf("running %+v", s.Running)
	}
	if s.Running[1].Type != ActFileTransfer || s.BytesDone != 1200 || s.BytesExpected != 5000 || s.BuildsExpected != 2 {
		t.Fatalf("downloads %+v", s)
	}
	ev(`@nix {"action":"stop","id":4}`)
	if s := m.Status(); s.BytesDone != 1200 || len(s.Running) != 1 {
		t.Fatalf("after transfer %+v", s)
	}
}

func TestStripANSI(t *testing.T) {
	for in, want := range map[string]string{
		"\x1b[31;1merror:\x1b[0m x":            "error: x",
		"plain":                                "plain",
		"\x1b]8;;http://x\x07link\x1b]8;;\x07": "link",
		"\x1b[2K\x1b[1Gprogress":               "progress",
	} {
		if got := StripANSI(in); got != want {
			t.Errorf("StripANSI(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStoreName(t *testing.T) {
	for in, want := range map[string]string{
		"/nix/store/4yyqa8dsjggq8msc1azc778q6qlfwd7b-bad.drv": "bad.drv",
		"/nix/store/abc-redis-7.2/bin/redis-server":           "redis-7.2",
		"https://x/y": "https://x/y",
	} {
		if got := StoreName(in); got != want {
			t.Errorf("StoreName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClassifyErrors(t *testing.T) {
	e := classify(Message{Text: "error: syntax error, unexpected IN", Raw: "syntax error, unexpected IN", File: "/f/syn.nix", Line: 1, Column: 11})
	if e.Kind != EvalFailure || e.Error() != "/f/syn.nix:1:11: syntax error, unexpected IN" {
		t.Fatalf("%v %q", e.Kind, e.Error())
	}
	e = classify(Message{Text: "error: undefined variable 'x'\n\n       at /f/flake.nix:3:5:\n"})
	if e.Kind != EvalFailure || e.Error() != "/f/flake.nix:3:5: undefined variable 'x'" {
		t.Fatalf("%v %q", e.Kind, e.Error())
	}
	e = classify(Message{Text: "error: a 'aarch64-linux' with features {} is required to build '/nix/store/x.drv', but I am a 'x86_64-linux' with features {benchmark}"})
	if e.Kind != UnsupportedSystem || e.System != "aarch64-linux" {
		t.Fatalf("%+v", e)
	}
}
