package testpeer

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a peer program started for one test. It is stopped when the test ends.
type Process struct {
	Host string // always 127.0.0.1
	Port int
	Cmd  *exec.Cmd

	mu      sync.Mutex
	stopped bool
	output  *bytes.Buffer
}

// Addr is host:port.
func (p *Process) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// Pause stops the process with SIGSTOP: the kernel still accepts connections on its port, but nothing
// answers, which is how a hung service looks from outside. Resume undoes it.
func (p *Process) Pause(t testing.TB) {
	t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("pause %s: %v", p.Cmd.Path, err)
	}
	// The signal takes effect asynchronously: on a busy machine the peer could still answer the
	// next request. Wait until the kernel reports it stopped ("T" in /proc/PID/stat).
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if state := p.state(); state == "" || state == "T" {
			return
		}
	}
}

// state is the process's state letter in /proc/PID/stat ("R", "S", "T" stopped, "Z" exited but not
// yet waited for), or "" when it is gone.
func (p *Process) state() string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Cmd.Process.Pid))
	if err != nil {
		return ""
	}
	s := string(b)
	return strings.TrimSpace(s[strings.LastIndexByte(s, ')')+1:])[:1]
}

// Resume continues a paused process.
func (p *Process) Resume(t testing.TB) {
	t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("resume %s: %v", p.Cmd.Path, err)
	}
}

// Stop ends the process (SIGCONT first, in case it is paused, then sig, then SIGKILL after five
// seconds) and waits for it. Stopping twice is harmless.
func (p *Process) Stop(t testing.TB) {
	t.Helper()
	p.stop(syscall.SIGTERM)
}

func (p *Process) stop(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	proc := p.Cmd.Process
	proc.Signal(syscall.SIGCONT)
	proc.Signal(sig)
	done := make(chan struct{})
	go func() { p.Cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		proc.Kill()
		<-done
	}
}

// Output is what the process wrote to stdout and stderr so far, for failure messages.
func (p *Process) Output() string {
	return p.output.String()
}

// start runs cmd with its output captured and registers its stop with t.Cleanup, using sig to stop.
func start(t testing.TB, cmd *exec.Cmd, port int, sig syscall.Signal) *Process {
	t.Helper()
	p, err := launch(cmd, port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(sig) })
	return p
}

// launch runs cmd with its output captured; the caller stops it. Peers shared by a package's tests
// (SharedKube) outlive any one test, so they cannot hang their stop on a test's cleanup.
func launch(cmd *exec.Cmd, port int) (*Process, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: &out}, nil
	cmd.Stderr = cmd.Stdout
	p := &Process{Host: "127.0.0.1", Port: port, Cmd: cmd, output: &out}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	return p, nil
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. Another process may take it
// before the caller binds it; peers that fail to start on it are retried by their Start functions.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitFor polls ready every 20 ms until it succeeds or the limit passes, then fails the test with
// the process's output.
func waitFor(t testing.TB, p *Process, what string, limit time.Duration, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become ready within %s: %v\n%s", what, limit, err, p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
