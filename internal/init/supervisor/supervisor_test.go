package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/init/board"
	"github.com/nixify/nixify/internal/testpeer"
)

func testPolicy() Policy {
	return Policy{BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		ResetAfter: time.Hour, MaxRestarts: 3, ReadyTimeout: 10 * time.Second}
}

// shService is a service whose process is a small shell script.
func shService(name, script string) Service {
	return Service{Name: name, Command: Command{Path: "/bin/sh", Args: []string{"-c", script}},
		StopBudget: 2 * time.Second}
}

// fileReady is a readiness probe: the file contains want.
func fileReady(path, want string) func(context.Context) error {
	return func(context.Context) error {
		b, _ := os.ReadFile(path)
		if !strings.Contains(string(b), want) {
			return errors.New("not yet")
		}
		return nil
	}
}

type harness struct {
	sup    *Supervisor
	board  *board.Board
	out    *testpeer.Buffer
	cancel context.CancelFunc
	result chan error
}

func start(t *testing.T, policy Policy, svcs ...Service) *harness {
	t.Helper()
	var names []string
	for _, s := range svcs {
		names = append(names, s.Name)
	}
	h := &harness{board: board.NewBoard(names...), out: &testpeer.Buffer{}, result: make(chan error, 1)}
	log := NewLog(h.out)
	sup, err := New(svcs, h.board, log, policy)
	if err != nil {
		t.Fatal(err)
	}
	h.sup = sup
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.result <- sup.Run(ctx); log.Close() }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.result:
		case <-time.After(20 * time.Second):
			t.Error("supervisor did not stop")
		}
	})
	return h
}

// stop cancels the run and returns its result.
func (h *harness) stop(t *testing.T) error {
	t.Helper()
	h.cancel()
	select {
	case err := <-h.result:
		h.result <- err // for Cleanup
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("supervisor did not stop")
		return nil
	}
}

// waitFor polls cond for up to 15 s: generous, because the machine is noisy; it asserts an outcome,
// not a duration.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func svcState(b *board.Board, name string) board.Service {
	s, _ := b.Snapshot().Service(name)
	return s
}

func TestOrderedStartAndReverseStop(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "events")
	mk := func(name string) Service {
		s := shService(name, fmt.Sprintf(`trap 'echo stop %[1]s >> %[2]s; exit 0' TERM; echo start %[1]s >> %[2]s; echo hello from %[1]s; sleep 100 & wait`, name, events))
		s.Ready = fileReady(events, "start "+name)
		return s
	}
	h := start(t, testPolicy(), mk("a"), mk("b"), mk("c"))
	waitFor(t, "phase ready", func() bool { return h.board.Snapshot().Phase == board.Ready })
	for _, n := range []string{"a", "b", "c"} {
		if st := svcState(h.board, n); st.State != board.Running || st.PID == 0 {
			t.Errorf("%s: %+v, want running with a pid", n, st)
		}
	}
	if err := h.stop(t); err != nil {
		t.Fatalf("clean stop returned %v", err)
	}
	b, _ := os.ReadFile(events)
	want := "start a\nstart b\nstart c\nstop c\nstop b\nstop a\n"
	if string(b) != want {
		t.Errorf("events:\n%s\nwant:\n%s", b, want)
	}
	if p := h.board.Snapshot().Phase; p != board.Stopped {
		t.Errorf("phase %s, want stopped", p)
	}
	if st := svcState(h.board, "a"); st.State != board.Exited {
		t.Errorf("a: %s, want exited", st.State)
	}
	if !strings.Contains(h.out.String(), "b | hello from b\n") {
		t.Errorf("log lacks the prefixed child line:\n%s", h.out.String())
	}
}

func TestCrashedServiceIsRestarted(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "up")
	s := shService("crashy", fmt.Sprintf(`echo $$ >> %s; exec sleep 100`, marker))
	s.Ready = fileReady(marker, "")
	h := start(t, testPolicy(), s)
	waitFor(t, "ready", func() bool { return h.board.Snapshot().Phase == board.Ready })
	first := svcState(h.board, "crashy").PID

	syscall.Kill(first, syscall.SIGKILL)
	waitFor(t, "restart", func() bool {
		st := svcState(h.board, "crashy")
		return st.State == board.Running && st.PID != first && st.PID != 0
	})
	st := svcState(h.board, "crashy")
	if st.Restarts != 1 || !strings.Contains(st.LastError, "SIGKILL") && !strings.Contains(st.LastError, "killed") {
		t.Errorf("after restart: %+v", st)
	}
	if h.board.Snapshot().Phase != board.Ready {
		t.Errorf("phase %s after a restart, want ready", h.board.Snapshot().Phase)
	}
	if err := h.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestServiceFailingPastLimitStopsContainer(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "events")
	good := shService("good", fmt.Sprintf(`trap 'echo stop good >> %s; exit 0' TERM; sleep 100 & wait`, events))
	bad := shService("bad", `echo dying; exit 3`)
	bad.Ready = func(context.Context) error { return errors.New("never") }
	h := start(t, testPolicy(), good, bad)
	var err error
	select {
	case err = <-h.result:
		h.result <- err
	case <-time.After(20 * time.Second):
		t.Fatal("supervisor kept running")
	}
	if err == nil || !strings.Contains(err.Error(), "bad failed (failures in a row: 4)") || !strings.Contains(err.Error(), "status 3") {
		t.Fatalf("err = %v", err)
	}
	if st := svcState(h.board, "bad"); st.State != board.Failed || st.Restarts != 3 {
		t.Errorf("bad: %+v", st)
	}
	b, _ := os.ReadFile(events)
	if string(b) != "stop good\n" {
		t.Errorf("good was not stopped in order: %q", b)
	}
}

func TestStopBudgetEscalatesToKill(t *testing.T) {
	s := shService("stubborn", `trap '' TERM; echo up; while :; do sleep 0.05; done`)
	s.StopBudget = 200 * time.Millisecond
	h := start(t, testPolicy(), s)
	waitFor(t, "ready", func() bool { return h.board.Snapshot().Phase == board.Ready })
	// "up" comes after the trap: only then does the shell ignore SIGTERM.
	waitFor(t, "the trap", func() bool { return strings.Contains(h.out.String(), "stubborn | up") })
	pid := svcState(h.board, "stubborn").PID
	// A stop that needed SIGKILL is not clean, and says so (issue 11).
	if err := h.stop(t); !errors.Is(err, ErrUnclean) || !strings.Contains(err.Error(), "stubborn had to be killed") {
		t.Fatalf("stop = %v, want an unclean stop naming stubborn", err)
	}
	if !strings.Contains(h.out.String(), "sending SIGKILL") {
		t.Errorf("no escalation in log:\n%s", h.out.String())
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("pid %d still alive", pid)
	}
}

// zombies lists children of this process that have exited but were not reaped.
func zombies(t *testing.T) []string {
	t.Helper()
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) S ppid ...: comm may hold spaces, so split after the last ')'.
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[0] == "Z" && fields[1] == fmt.Sprint(os.Getpid()) {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestOrphansAreReaped(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "orphaned")
	// The subshell starts a grandchild and exits at once: the grandchild becomes an orphan,
	// re-parented to us (the subreaper), and exits shortly after.
	s := shService("leaky", fmt.Sprintf(`for i in 1 2 3 4 5; do (sleep 0.2 &); done; touch %s; exec sleep 100`, marker))
	s.Ready = fileReady(marker, "")
	h := start(t, testPolicy(), s)
	waitFor(t, "ready", func() bool { return h.board.Snapshot().Phase == board.Ready })
	waitFor(t, "orphans reaped", func() bool { return strings.Count(h.out.String(), "reaped orphan") >= 5 })
	if z := zombies(t); len(z) > 0 {
		t.Errorf("zombies left: %v", z)
	}
	h.stop(t)
}

// stuckWriter blocks every write until released, like a stdout nobody reads.
type stuckWriter struct{ release chan struct{} }

func (w stuckWriter) Write(p []byte) (int, error) { <-w.release; return len(p), nil }

func TestFloodingChildNeverBlocks(t *testing.T) {
	w := stuckWriter{release: make(chan struct{})}
	log := NewLog(w)
	b := board.NewBoard()
	sup, err := New(nil, b, log, testPolicy())
	if err != nil {
		t.Fatal(err)
	}
	// 64 MiB through a pipe whose reader's output is stuck: it finishes only if nothing blocks.
	// No newlines, so the line splitter is exercised too.
	done := make(chan error, 1)
	go func() {
		done <- sup.Exec(context.Background(), "flood", Command{Path: "/bin/sh", Args: []string{"-c", "head -c 67108864 /dev/zero"}})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("flooding child blocked")
	}
	close(w.release)
	log.Close()
}

func TestRunsAsDedicatedUser(t *testing.T) {
	testpeer.Root(t, "the supervisor switches to the service's user")
	dir := t.TempDir()
	// The user must be able to reach its directory: open the test's folders for traversal.
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Dir(dir), 0o755)
	data := filepath.Join(dir, "data")
	marker := filepath.Join(data, "up")
	s := shService("asnobody", fmt.Sprintf(`echo "$HOME $USER" > %s; exec sleep 100`, marker))
	s.User, s.DataDir, s.DataMode = "nobody", data, 0o750
	s.Command.User = "nobody"
	s.Ready = fileReady(marker, "nobody")
	h := start(t, testPolicy(), s)
	waitFor(t, "ready", func() bool { return h.board.Snapshot().Phase == board.Ready })
	pid := svcState(h.board, "asnobody").PID
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var uid, groups string
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "Uid:") {
			uid = strings.Fields(line)[1]
		}
		if strings.HasPrefix(line, "Groups:") {
			groups = strings.TrimSpace(strings.TrimPrefix(line, "Groups:"))
		}
	}
	acct, _ := lookupAccount("nobody")
	if uid != fmt.Sprint(acct.uid) || groups != "" {
		t.Errorf("uid %s groups %q, want %d and none", uid, groups, acct.uid)
	}
	st, _ := os.Stat(data)
	if st.Mode().Perm() != 0o750 || st.Sys().(*syscall.Stat_t).Uid != acct.uid {
		t.Errorf("data dir mode %v uid %d", st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Uid)
	}
	b, _ := os.ReadFile(marker)
	if got := strings.TrimSpace(string(b)); got != acct.home+" nobody" {
		t.Errorf("HOME USER = %q", got)
	}
	h.stop(t)
}

func TestMissingUserIsClearError(t *testing.T) {
	s := shService("x", "true")
	s.User = "no-such-user-nixify"
	_, err := New([]Service{s}, board.NewBoard(), NewLog(io.Discard), testPolicy())
	if err == nil || !strings.Contains(err.Error(), `user "no-such-user-nixify" does not exist`) {
		t.Fatalf("err = %v", err)
	}
}

// TestLastLinesBeforeExitReachTheLog: a child's final words (PostgreSQL's "database system is shut
// down") are in the log by the time its exit is reported, every time.
func TestLastLinesBeforeExitReachTheLog(t *testing.T) {
	for i := range 20 {
		var out testpeer.Buffer
		log := NewLog(&out)
		sup, err := New(nil, board.NewBoard(), log, testPolicy())
		if err != nil {
			t.Fatal(err)
		}
		script := `i=0; while [ $i -lt 50 ]; do echo line $i; i=$((i+1)); done; echo last words`
		if err := sup.Exec(context.Background(), "talker", Command{Path: "/bin/sh", Args: []string{"-c", script}}); err != nil {
			t.Fatal(err)
		}
		log.Close()
		if !strings.Contains(out.String(), "talker | last words\n") {
			t.Fatalf("run %d: the last line is missing from the log:\n%s", i, out.String())
		}
	}
}

// TestProgressIsWaitedForUntilItStalls: a service reporting progress (Redis loading its dataset)
// is waited for beyond the ready timeout while its progress moves, with the progress on the board;
// one whose progress stops is killed once the ready timeout passes without a move.
func TestProgressIsWaitedForUntilItStalls(t *testing.T) {
	policy := testPolicy()
	policy.ReadyTimeout, policy.MaxRestarts = 300*time.Millisecond, 0
	var calls atomic.Int64
	// Progress moves at every call until the 40th (at least 250 ms apart: 10 s, far beyond the
	// ready timeout), then the service is ready.
	loading := shService("loading", "sleep 100 & wait")
	loading.Ready = func(context.Context) error {
		if n := calls.Add(1); n < 40 {
			return Progress(fmt.Sprintf("loading dataset %d%%", n*100/40), n)
		}
		return nil
	}
	h := start(t, policy, loading)
	waitFor(t, "progress on the board", func() bool { return strings.HasPrefix(svcState(h.board, "loading").Detail, "loading dataset") })
	waitFor(t, "phase ready", func() bool { return h.board.Snapshot().Phase == board.Ready })
	if st := svcState(h.board, "loading"); st.Restarts != 0 || st.Detail != "" {
		t.Fatalf("after the load: %+v, want no restart and no detail", st)
	}
	h.stop(t)

	stalled := shService("stalled", "sleep 100 & wait")
	stalled.Ready = func(context.Context) error { return Progress("loading dataset 42%", 42) }
	h = start(t, policy, stalled)
	var err error
	select {
	case err = <-h.result:
		h.result <- err
	case <-time.After(20 * time.Second):
		t.Fatal("a stalled load was waited for without end")
	}
	if err == nil || !strings.Contains(err.Error(), "no progress for 300ms: loading dataset 42%") {
		t.Fatalf("stalled load: %v", err)
	}
}
