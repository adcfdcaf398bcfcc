package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"time"
)

// Command is one program to run: a service's main process or a first-boot step such as initdb.
type Command struct {
	Path string   // absolute path, resolved from PATH when the service is defined
	Args []string // arguments after the program name
	Env  []string // extra KEY=VALUE entries; the child gets no other variables of the init
	Dir  string   // working directory; the user's home when empty
	User string   // run as this user; empty means the init's own user
}

// account is what a child needs to become its user.
type account struct {
	name     string
	uid, gid uint32
	home     string
}

// lookupAccount resolves a user name from the passwd file (pure Go, so it works in a static binary).
func lookupAccount(name string) (account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return account{}, fmt.Errorf("user %q does not exist (the image must define it)", name)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return account{}, fmt.Errorf("user %q: bad uid/gid: %w", name, err)
	}
	return account{name: name, uid: uint32(uid), gid: uint32(gid), home: u.HomeDir}, nil
}

// process is one started child.
type process struct {
	pid  int
	exit <-chan syscall.WaitStatus
	// lastLine is the child's last line of output, set before exit delivers (empty when the
	// output was still open after drainWait).
	lastLine string
}

// spawn starts cmd through the reaper with its output going to the log under source. The child
// leads its own process group, so a terminal's Ctrl-C reaches only the init, and the whole group
// can be killed when the budget runs out.
func (s *Supervisor) spawn(source string, cmd Command) (*process, error) {
	env, dir, sys, err := childAttrs(cmd)
	if err != nil {
		return nil, err
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pipe for %s: %w", source, err)
	}
	p := &process{}
	argv := append([]string{cmd.Path}, cmd.Args...)
	pid, exit, err := s.reaper.start(cmd.Path, argv, &syscall.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: []uintptr{devnull.Fd(), w.Fd(), w.Fd()},
		Sys:   sys,
	})
	w.Close()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p.pid = pid
	copied := make(chan struct{})
	last := new(string)
	go func() {
		l := s.log.copyLines(source, r)
		r.Close()
		*last = s.log.redacted(l)
		close(copied)
	}()
	// The exit is passed on once the child's last lines are in the log (PostgreSQL's "database
	// system is shut down" comes just before it exits), or after drainWait when something the child
	// left behind still holds the pipe open.
	drained := make(chan syscall.WaitStatus, 1)
	go func() {
		ws := <-exit
		select {
		case <-copied:
			p.lastLine = *last
		case <-time.After(drainWait):
		}
		drained <- ws
	}()
	p.exit = drained
	return p, nil
}

// childAttrs is what a child starts with: a small environment (PATH, TZ, LANG and its user's
// HOME, USER, LOGNAME, plus cmd.Env), its working directory, and its credentials.
func childAttrs(cmd Command) (env []string, dir string, sys *syscall.SysProcAttr, err error) {
	env = []string{"PATH=" + os.Getenv("PATH")}
	for _, k := range []string{"TZ", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	sys = &syscall.SysProcAttr{Setpgid: true}
	dir = cmd.Dir
	if cmd.User != "" {
		acct, err := lookupAccount(cmd.User)
		if err != nil {
			return nil, "", nil, err
		}
		if uint32(os.Geteuid()) != acct.uid {
			// Groups set to empty clears supplementary groups: the child keeps only its own.
			sys.Credential = &syscall.Credential{Uid: acct.uid, Gid: acct.gid, Groups: []uint32{}}
		}
		env = append(env, "HOME="+acct.home, "USER="+acct.name, "LOGNAME="+acct.name)
		if dir == "" {
			dir = acct.home
		}
	}
	if dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			dir = "/"
		}
	}
	return append(env, cmd.Env...), dir, sys, nil
}

// drainWait bounds how long an exit waits for the rest of the child's output.
const drainWait = 500 * time.Millisecond

// Exec runs cmd to completion (a first-boot step), with its output in the log under source. If ctx
// ends first, the step's process group is killed.
func (s *Supervisor) Exec(ctx context.Context, source string, cmd Command) error {
	p, err := s.spawn(source, cmd)
	if err != nil {
		return err
	}
	select {
	case ws := <-p.exit:
		if err := exitError(cmd.Path, ws); err != nil {
			if p.lastLine != "" {
				// The step's own words say why (initdb: "superuser name ... is disallowed").
				return fmt.Errorf("%w: %s", err, p.lastLine)
			}
			return err
		}
		return nil
	case <-ctx.Done():
		syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.exit
		return ctx.Err()
	}
}

// exitError describes a non-zero exit; nil for a clean exit.
func exitError(path string, ws syscall.WaitStatus) error {
	switch {
	case ws.Exited() && ws.ExitStatus() == 0:
		return nil
	case ws.Signaled():
		return fmt.Errorf("%s killed by %s", path, ws.Signal())
	default:
		return fmt.Errorf("%s exited with status %d", path, ws.ExitStatus())
	}
}

// Owner returns the uid and gid of a user, for files a service must own.
func Owner(name string) (uid, gid int, err error) {
	acct, err := lookupAccount(name)
	return int(acct.uid), int(acct.gid), err
}

// Output runs a program as the init's own user and returns its standard output (at most 64 KiB),
// through the process's one reaper: os/exec's Wait would race the reaper for the exit status
// (and lose it as "waitid: no child processes" when the reaper collects it first).
func Output(ctx context.Context, path string, args ...string) ([]byte, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		w.Close()
		return nil, err
	}
	defer devnull.Close()
	pid, exit, err := sharedReaper().start(path, append([]string{path}, args...), &syscall.ProcAttr{
		Env: []string{"PATH=" + os.Getenv("PATH"), "LANG=C"}, Files: []uintptr{devnull.Fd(), w.Fd(), devnull.Fd()}})
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	out := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(r, 64<<10))
		io.Copy(io.Discard, r)
		out <- b
	}()
	select {
	case ws := <-exit:
		b := <-out
		if !ws.Exited() || ws.ExitStatus() != 0 {
			return b, exitError(path, ws)
		}
		return b, nil
	case <-ctx.Done():
		syscall.Kill(pid, syscall.SIGKILL)
		<-exit
		return nil, fmt.Errorf("%s: %w", path, ctx.Err())
	}
}
