package nix

import (
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// Monitor follows a build's events and keeps what a person watching it wants to know, in the
// spirit of nix-output-monitor: what builds or downloads now and for how long, in which phase,
// how many bytes came down, how much is done and left, and each build's last log lines. It is safe
// for concurrent use, so several nix processes may feed one monitor.
type Monitor struct {
	// TailLines is how many log lines are kept per derivation (default 40).
	TailLines int
	// OnLog, when set, receives every build log line (ANSI removed): --verbose.
	OnLog func(drv, line string)
	// OnStart and OnStop, when set, hear of builds and downloads beginning and ending.
	OnStart func(a Activity)
	OnStop  func(a Activity, elapsed time.Duration)
	// OnMsg, when set, receives Nix's messages other than errors (warnings, notices), ANSI removed.
	OnMsg func(level int, text string)

	mu         sync.Mutex
	acts       map[uint64]*Activity
	builds     map[uint64][4]int64 // per nix process' "builds" activity: done, expected, running, failed
	copies     map[uint64][4]int64
	expBytes   map[uint64]int64 // realise activity id → expected download bytes
	bytesDone  int64            // bytes of finished transfers
	failedSeen int64            // failed builds already attributed to a stopped build
	builtSeen  int64            // successful builds already attributed to a stopped build
	tails      map[string][]string
	finished   []Finished
}

// Activity is something Nix is doing that the view shows: a build or a download.
type Activity struct {
	ID       uint64
	Type     int
	Drv      string // builds: the derivation path
	Path     string // downloads: the store path
	Name     string // short name: the store path without /nix/store/<hash>-
	Phase    string // builds: the current phase, when the builder announces it
	Machine  string // builds on a remote machine
	LastLine string // builds: the last log line
	Failed   bool   // builds, when stopped: the build failed
	Built    bool   // builds, when stopped: the build succeeded (neither: it was interrupted)
	Done     int64  // downloads: bytes so far
	Expected int64
	Started  time.Time
}

// Finished is a build or download that ended.
type Finished struct {
	Type    int
	Name    string
	Elapsed time.Duration
	Failed  bool
	Built   bool
}

// Status is a snapshot for drawing.
type Status struct {
	Running        []Activity // builds first, then downloads, oldest first
	Finished       []Finished
	BuildsDone     int64
	BuildsExpected int64
	BuildsRunning  int64
	BuildsFailed   int64
	CopiesDone     int64
	CopiesExpected int64
	BytesDone      int64
	BytesExpected  int64
}

// NewMonitor returns an empty monitor.
func NewMonitor() *Monitor {
	return &Monitor{
		TailLines: 40, acts: map[uint64]*Activity{}, builds: map[uint64][4]int64{},
		copies: map[uint64][4]int64{}, expBytes: map[uint64]int64{}, tails: map[string][]string{},
	}
}

// Handle takes one event; now is when it arrived.
func (m *Monitor) Handle(e *Event, now time.Time) {
	m.mu.Lock()
	var h heard
	switch e.Action {
	case ActionStart:
		h.started = m.start(e, now)
	case ActionStop:
		h.stopped = m.stop(e, now)
	case ActionResult:
		h.logDrv, h.logLine = m.result(e)
	case ActionMsg:
		h.msg, h.msgLevel = m.message(e)
	}
	onStart, onStop, onLog, onMsg := m.OnStart, m.OnStop, m.OnLog, m.OnMsg
	m.mu.Unlock()

	// Callbacks run outside the lock: they write to the terminal and may be slow.
	if h.started != nil && onStart != nil {
		onStart(*h.started)
	}
	if h.stopped != nil && onStop != nil {
		onStop(*h.stopped, now.Sub(h.stopped.Started))
	}
	if h.logLine != "" && onLog != nil {
		onLog(h.logDrv, h.logLine)
	}
	if h.msg != "" && onMsg != nil {
		onMsg(h.msgLevel, h.msg)
	}
}

// heard is what one event tells the callbacks; activities are copies, safe outside the lock.
type heard struct {
	started, stopped *Activity
	logDrv, logLine  string
	msg              string
	msgLevel         int
}

// start records a build or download beginning, and the aggregates whose progress follows; it
// returns a copy of what the view shows as started.
func (m *Monitor) start(e *Event, now time.Time) *Activity {
	switch e.Type {
	case ActBuilds:
		// The aggregates are recognised at their start so that progress lands in the right map.
		m.builds[e.ID] = [4]int64{}
	case ActCopyPaths:
		m.copies[e.ID] = [4]int64{}
	case ActBuild:
		a := &Activity{ID: e.ID, Type: e.Type, Drv: e.Str(0), Machine: e.Str(1), Started: now}
		a.Name = StoreName(strings.TrimSuffix(a.Drv, ".drv"))
		m.acts[e.ID] = a
		c := *a
		return &c
	case ActFileTransfer, ActCopyPath, ActSubstitute:
		path := e.Str(0) // a store path, or the URL of a file transfer
		a := &Activity{ID: e.ID, Type: e.Type, Path: path, Name: StoreName(path), Started: now}
		m.acts[e.ID] = a
		if e.Type != ActSubstitute { // a substitution is shown through its copy and transfer
			c := *a
			return &c
		}
	}
	return nil
}

// stop records an activity's end and, for a build, whether it was built, failed or interrupted;
// it returns a copy of what the view shows as ended.
func (m *Monitor) stop(e *Event, now time.Time) *Activity {
	a, ok := m.acts[e.ID]
	if !ok {
		return nil
	}
	delete(m.acts, e.ID)
	if a.Type == ActFileTransfer || a.Type == ActCopyPath && !m.hasTransfers() {
		m.bytesDone += a.Done
	}
	if a.Type == ActBuild {
		// Nix counts a success or a failure in the aggregate just before it stops the build; a
		// build stopped without either (Ctrl-C) has no output and was not built.
		var built, failed int64
		for _, c := range m.builds {
			built += c[0]
			failed += c[3]
		}
		switch {
		case built > m.builtSeen:
			a.Built = true
			m.builtSeen++
		case failed > m.failedSeen:
			a.Failed = true
			m.failedSeen++
		}
	}
	if a.Type == ActSubstitute {
		return nil
	}
	m.finished = append(m.finished, Finished{Type: a.Type, Name: a.Name, Elapsed: now.Sub(a.Started), Failed: a.Failed, Built: a.Built})
	c := *a
	return &c
}

// result takes a build's log line, phase or progress; it returns the log line, if it was one.
func (m *Monitor) result(e *Event) (drv, line string) {
	switch e.Type {
	case ResBuildLogLine, ResPostBuildLogLine:
		if a, ok := m.acts[e.ID]; ok {
			line = StripANSI(e.Str(0))
			a.LastLine = line
			m.appendTail(a.Drv, line)
			return a.Drv, line
		}
	case ResSetPhase:
		if a, ok := m.acts[e.ID]; ok {
			a.Phase = e.Str(0)
		}
	case ResProgress:
		counts := [4]int64{e.Int(0), e.Int(1), e.Int(2), e.Int(3)}
		if _, ok := m.builds[e.ID]; ok {
			m.builds[e.ID] = counts
		} else if _, ok := m.copies[e.ID]; ok {
			m.copies[e.ID] = counts
		} else if a, ok := m.acts[e.ID]; ok {
			a.Done, a.Expected = counts[0], counts[1]
		}
	case ResSetExpected:
		if e.Int(0) == ActFileTransfer {
			m.expBytes[e.ID] = e.Int(1)
		}
	}
	return "", ""
}

// message returns Nix's messages other than errors (warnings, notices), ANSI removed: errors end
// the build, and the caller reports them (see Build).
func (m *Monitor) message(e *Event) (string, int) {
	if _, isErr := errorMessage(e); isErr {
		return "", 0
	}
	return StripANSI(e.Msg), e.Level
}

// hasTransfers reports whether byte counts come from file transfers (remote caches) rather than
// from copies (local caches), so bytes are not counted twice.
func (m *Monitor) hasTransfers() bool {
	for _, v := range m.expBytes {
		if v > 0 {
			return true
		}
	}
	return false
}

func (m *Monitor) appendTail(drv, line string) {
	t := append(m.tails[drv], line)
	if n := m.TailLines; n > 0 && len(t) > n {
		t = append(t[:0], t[len(t)-n:]...)
	}
	m.tails[drv] = t
}

// Status returns a snapshot for drawing.
func (m *Monitor) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	var s Status
	for _, a := range m.acts {
		if a.Type == ActSubstitute {
			continue
		}
		s.Running = append(s.Running, *a)
		if a.Type == ActFileTransfer || a.Type == ActCopyPath && !m.hasTransfers() {
			s.BytesDone += a.Done
		}
	}
	sort.Slice(s.Running, func(i, j int) bool {
		a, b := s.Running[i], s.Running[j]
		if (a.Type == ActBuild) != (b.Type == ActBuild) {
			return a.Type == ActBuild
		}
		if !a.Started.Equal(b.Started) {
			return a.Started.Before(b.Started)
		}
		return a.ID < b.ID
	})
	s.Finished = append([]Finished(nil), m.finished...)
	for _, c := range m.builds {
		s.BuildsDone += c[0]
		s.BuildsExpected += c[1]
		s.BuildsRunning += c[2]
		s.BuildsFailed += c[3]
	}
	for _, c := range m.copies {
		s.CopiesDone += c[0]
		s.CopiesExpected += c[1]
	}
	s.BytesDone += m.bytesDone
	for _, v := range m.expBytes {
		s.BytesExpected += v
	}
	return s
}

// Tail returns the last log lines of a derivation's build, ANSI removed.
func (m *Monitor) Tail(drv string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.tails[drv]...)
}

// StoreName strips /nix/store/<hash>- from a store path: "/nix/store/abc-redis-7.2" → "redis-7.2".
// Anything else is returned as it is.
func StoreName(p string) string {
	base, ok := strings.CutPrefix(p, "/nix/store/")
	if !ok {
		return p
	}
	base, _, _ = strings.Cut(base, "/")
	if _, name, ok := strings.Cut(base, "-"); ok {
		return name
	}
	return base
}

// ansiRE matches CSI sequences (colours, cursor moves) and OSC sequences (titles, hyperlinks).
var ansiRE = regexp.MustCompile(`\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]`)

// StripANSI removes terminal escape sequences: Nix colours its messages even when piped, and
// builders colour their logs.
func StripANSI(s string) string {
	if strings.IndexByte(s, 0x1b) < 0 {
		return s
	}
	return ansiRE.ReplaceAllString(s, "")
}
