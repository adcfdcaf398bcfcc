package nix

import (
	"bufio"
	"errors"
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

// TestErrorIsOneLineWithAllOfTheMessage: nix 2.8's error messages as it printed them (the msg of
// its internal-json events, ANSI removed) make one line that keeps the rest of a message nix
// continued on indented lines, and leaves the position block, source excerpt and log tail out.
func TestErrorIsOneLineWithAllOfTheMessage(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  Message
		want string
	}{
		{"a store path with a newline in its name",
			Message{Text: StripANSI("\x1b[31;1merror:\x1b[0m store path '\x1b[35;1mwm9vasc8d2bx0g32i5h5hqx7svwmlfni-libfoo-1.1\n       .tar\x1b[0m' contains illegal character '\x1b[35;1m\n       \x1b[0m'"),
				Raw: "store path 'wm9vasc8d2bx0g32i5h5hqx7svwmlfni-libfoo-1.1\n.tar' contains illegal character '\n'"},
			`store path 'wm9vasc8d2bx0g32i5h5hqx7svwmlfni-libfoo-1.1\n.tar' contains illegal character '\n'`},
		{"a thrown message of two lines",
			Message{Text: "error: first\n       second line", Raw: "first\nsecond line"},
			"first second line"},
		{"a missing attribute and nix's suggestion",
			Message{Text: "error: flake 'path:/tmp/f' does not provide attribute 'packages.x86_64-linux.imag', 'legacyPackages.x86_64-linux.imag' or 'imag'\n       Did you mean image?"},
			"flake 'path:/tmp/f' does not provide attribute 'packages.x86_64-linux.imag', 'legacyPackages.x86_64-linux.imag' or 'imag' Did you mean image?"},
		{"an evaluation error, its position and suggestion",
			Message{Text: "error: attribute 'c' missing\n\n       at /nix/store/x-source/flake.nix:3:31:\n\n            2|   arm = 1;\n            3|   ev = let a = { b = 1; }; in a.c;\n             |                               ^\n       Did you mean b?",
				Raw: "attribute 'c' missing", File: "/nix/store/x-source/flake.nix", Line: 3, Column: 31},
			"/nix/store/x-source/flake.nix:3:31: attribute 'c' missing Did you mean b?"},
		{"a builder failure with nix's log tail (plain output)",
			Message{Text: "error: builder for '/nix/store/1sbj-bad.drv' failed with exit code 1;\n       last 1 log lines:\n       > hi\n       For full logs, run 'nix log /nix/store/1sbj-bad.drv'.\n(use '--show-trace' to show detailed location information)"},
			"builder for '/nix/store/1sbj-bad.drv' failed with exit code 1"},
		{"an unsupported system",
			Message{Text: "error: a 'aarch64-linux' with features {} is required to build '/nix/store/yr1s-arm.drv', but I am a 'x86_64-linux' with features {benchmark, big-parallel, kvm, nixos-test}"},
			"a 'aarch64-linux' with features {} is required to build '/nix/store/yr1s-arm.drv', but I am a 'x86_64-linux' with features {benchmark, big-parallel, kvm, nixos-test}"},
	} {
		if got := classify(tc.msg).Error(); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
	long := classify(Message{Text: "error: " + strings.Repeat("x", 300) + "\n       " + strings.Repeat("y", 300)}).Error()
	if n := len([]rune(long)); n != maxErrorRunes || !strings.HasSuffix(long, "y…") || strings.Contains(long, "\n") {
		t.Errorf("a long message is %d runes: %q", n, long)
	}
}

// TestFailedDependencyReportsItsBuilder: when a dependency fails, nix's last error is "1
// dependencies of derivation … failed to build"; the error is the builder's, whose log is shown.
func TestFailedDependencyReportsItsBuilder(t *testing.T) {
	r := strings.NewReader(`@nix {"action":"msg","column":null,"file":null,"level":0,"line":null,"msg":"\u001b[31;1merror:\u001b[0m builder for '\u001b[35;1m/nix/store/1sbjs138z86h995ri82vasz5385kdkwm-bad.drv\u001b[0m' failed with exit code 1","raw_msg":"builder for '/nix/store/1sbjs138z86h995ri82vasz5385kdkwm-bad.drv' failed with exit code 1"}
@nix {"action":"msg","column":null,"file":null,"level":0,"line":null,"msg":"\u001b[31;1merror:\u001b[0m \u001b[35;1m\u001b[0m\u001b[35;1m1\u001b[0m dependencies of derivation '\u001b[35;1m/nix/store/hr87ag4ly34zq059jhc58klf35rfzjfz-top.drv\u001b[0m' failed to build\u001b[0m","raw_msg":"1 dependencies of derivation '/nix/store/hr87ag4ly34zq059jhc58klf35rfzjfz-top.drv' failed to build"}
`)
	plain, errs := readEvents(r, nil)
	var e *Error
	if !errors.As(buildError(errs, plain, errors.New("exit status 1")), &e) || e.Kind != BuilderFailure || !strings.HasSuffix(e.Drv, "-bad.drv") {
		t.Fatalf("got %+v", e)
	}
}
