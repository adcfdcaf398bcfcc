package image

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// runStream starts a streamLayeredImage script and returns the docker-archive it writes to stdout.
// It is the one way nixify runs a stream script (build, info, run, push): the script gets its own
// process group, so a cancel stops it and the tools it started; its stderr is kept (the end of it)
// for the error. Close lets the script finish, waits for it, and returns why it failed.
func runStream(ctx context.Context, script string) (io.ReadCloser, error) {
	// An absolute path: a bare name would be looked up on PATH.
	abs, err := filepath.Abs(script)
	if err != nil {
		return nil, fmt.Errorf("run stream script %s: %w", script, err)
	}
	cmd := exec.CommandContext(ctx, abs)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	stderr := &tailBuffer{max: 8 << 10}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("run stream script %s: %w", script, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run stream script %s: %w", script, err)
	}
	return &stream{ctx: ctx, cmd: cmd, out: out, stderr: stderr, script: script}, nil
}

type stream struct {
	ctx    context.Context
	cmd    *exec.Cmd
	out    io.ReadCloser
	stderr *tailBuffer
	script string
	closed bool
	err    error
}

func (s *stream) Read(p []byte) (int, error) { return s.out.Read(p) }

func (s *stream) Close() error {
	if s.closed {
		return s.err
	}
	s.closed = true
	// A reader that stopped at the tar's end marker leaves padding unread; the script must be let
	// finish writing, or it dies of a broken pipe and looks failed.
	_, _ = io.Copy(io.Discard, s.out)
	werr := s.cmd.Wait()
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) // what the script left running
	switch {
	case s.ctx.Err() != nil:
		s.err = s.ctx.Err()
	case werr != nil:
		msg := strings.TrimSpace(s.stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		s.err = fmt.Errorf("stream script %s failed (%v): %s", s.script, werr, msg)
	}
	return s.err
}

// tailBuffer keeps the last max bytes written: a child's reason for failing is at the end.
type tailBuffer struct {
	b   bytes.Buffer
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b.Write(p)
	if over := t.b.Len() - t.max; over > 0 {
		t.b.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return t.b.String() }
