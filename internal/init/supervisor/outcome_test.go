package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/init/board"
	"github.com/nixify/nixify/internal/testpeer"
)

// Issue 11: the end of a run says what happened. These failed before: every requested stop
// returned nil ("all services stopped cleanly").

func TestStopWithFailureStatusIsNotClean(t *testing.T) {
	s := shService("grumpy", `trap 'exit 3' TERM; echo up; while :; do sleep 0.05; done`)
	h := start(t, testPolicy(), s)
	waitFor(t, "ready", func() bool { return h.board.Snapshot().Phase == board.Ready })
	waitFor(t, "the trap", func() bool { return strings.Contains(h.out.String(), "grumpy | up") })
	err := h.stop(t)
	if !errors.Is(err, ErrUnclean) || !strings.Contains(err.Error(), "grumpy stopped with exit status 3") {
		t.Fatalf("stop = %v", err)
	}
}

func TestStopDuringFirstBootIsNotClean(t *testing.T) {
	s := shService("slow", `exec sleep 100`)
	s.Ready = func(context.Context) error { return errors.New("not yet") }
	h := start(t, testPolicy(), s)
	waitFor(t, "booting", func() bool { return svcState(h.board, "slow").State == board.Booting })
	err := h.stop(t)
	if !errors.Is(err, ErrUnclean) || !strings.Contains(err.Error(), "during first boot, before slow was ready") {
		t.Fatalf("stop = %v", err)
	}
}

// TestPermanentReadyErrorIsReportedAtOnce: a readiness error that waiting cannot fix ends the first
// boot at once, with the fix, instead of being retried until the ready timeout and restarted.
func TestPermanentReadyErrorIsReportedAtOnce(t *testing.T) {
	s := shService("pg", `exec sleep 100`)
	s.Ready = func(context.Context) error {
		return Permanent(errors.New(`role "app" does not exist: set POSTGRES_USER back`))
	}
	policy := testPolicy()
	policy.ReadyTimeout = time.Hour
	h := start(t, policy, s)
	var err error
	select {
	case err = <-h.result:
		h.result <- err
	case <-time.After(15 * time.Second):
		t.Fatal("still retrying a permanent error")
	}
	if err == nil || !strings.Contains(err.Error(), `role "app" does not exist: set POSTGRES_USER back`) {
		t.Fatalf("err = %v", err)
	}
	if st := svcState(h.board, "pg"); st.State != board.Failed || st.Restarts != 0 {
		t.Errorf("pg: %+v", st)
	}
}

// TestFailedStepSaysWhy: a first-boot step's own last line (initdb's "initdb: error: ...") is part
// of the error, not only "exited with status 1".
func TestFailedStepSaysWhy(t *testing.T) {
	var out testpeer.Buffer
	log := NewLog(&out)
	defer log.Close()
	sup, err := New(nil, board.NewBoard(), log, testPolicy())
	if err != nil {
		t.Fatal(err)
	}
	err = sup.Exec(context.Background(), "step", Command{Path: "/bin/sh",
		Args: []string{"-c", `echo working; echo 'step: error: superuser name "pg_x" is disallowed' >&2; echo 'step: removing data directory'; exit 1`}})
	if err == nil || !strings.Contains(err.Error(), `exited with status 1: step: error: superuser name "pg_x" is disallowed`) {
		t.Fatalf("err = %v", err)
	}
}

func TestLogRedactsSecrets(t *testing.T) {
	var out testpeer.Buffer
	log := NewLog(&out)
	log.Redact("s3cr\\et", "")
	sup, err := New(nil, board.NewBoard(), log, testPolicy())
	if err != nil {
		t.Fatal(err)
	}
	sup.Exec(context.Background(), "redis", Command{Path: "/bin/sh", Args: []string{"-c", `printf "%s\\n" ">>> 'requirepass \"s3cr\\et\"'"`}})
	log.Close()
	if strings.Contains(out.String(), "s3cr\\et") || !strings.Contains(out.String(), "[redacted]") {
		t.Fatalf("log: %q", out.String())
	}
}

// TestForeignOwnedDataIsReowned: a data directory restored by another tool (another uid) is given
// to the service's user, all of it, and the log says so.
func TestForeignOwnedDataIsReowned(t *testing.T) {
	testpeer.Root(t, "only root can give files to another user")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(filepath.Join(data, "base", "1"), 0o700); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(data, "base", "1", "relation")
	os.WriteFile(file, []byte("x"), 0o600)
	for _, p := range []string{data, filepath.Join(data, "base"), filepath.Join(data, "base", "1"), file} {
		if err := os.Lchown(p, 4711, 4711); err != nil {
			t.Fatal(err)
		}
	}
	var out testpeer.Buffer
	log := NewLog(&out)
	sup, err := New(nil, board.NewBoard(), log, testPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if err := sup.ensureDir("svc", data, 0o700, "nobody"); err != nil {
		t.Fatal(err)
	}
	log.Close()
	acct, _ := lookupAccount("nobody")
	st, _ := os.Lstat(file)
	if uid := st.Sys().(*syscall.Stat_t).Uid; uid != acct.uid {
		t.Errorf("%s still owned by %d", file, uid)
	}
	if want := fmt.Sprintf("files in %s that belonged to uid 4711 re-owned to nobody (uid 65534): 3", data); !strings.Contains(out.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, out.String())
	}
}

// TestLogRedactionRevealsNoPiece: with REDIS_PASSWORD=o the log read "p[redacted]stgres" (issue
// 21), giving the password away; a short secret is hidden only where it stands alone.
func TestLogRedactionRevealsNoPiece(t *testing.T) {
	var out testpeer.Buffer
	l := NewLog(&out)
	l.Redact("o", "a-long-generated-secret")
	l.Printf("postgres", "database system is ready; AUTH o; key=a-long-generated-secret")
	l.Close()
	if got, want := out.String(), "postgres | database system is ready; AUTH [redacted]; key=[redacted]\n"; got != want {
		t.Fatalf("log line %q, want %q", got, want)
	}
}
