// Package supervisor is the init's one loop: it starts services in order, waits for each to be
// ready, restarts the ones that die (with backoff, up to a limit), forwards signals, reaps every
// child and orphan, and stops everything in reverse order. It knows nothing specific about any
// service: each is data (Service) with a few hooks, in the spirit of s6 and tini.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nixify/nixify/internal/init/board"
)

// Runner runs a first-boot step to completion; the supervisor is one, so steps share its reaping
// and log.
type Runner interface {
	Exec(ctx context.Context, source string, cmd Command) error
}

// Service describes one supervised program as data.
type Service struct {
	Name     string
	User     string      // the dedicated user the service runs as
	DataDir  string      // created (mode DataMode) and chowned to User before Prepare
	DataMode os.FileMode // 0700 when zero

	// Prepare runs as root before the first start, on every boot: it must be idempotent (initdb
	// only when needed, configuration files rewritten from the environment).
	Prepare func(ctx context.Context, run Runner) error
	Command Command
	// Ready is polled until it succeeds after each start: the service accepts work.
	Ready func(ctx context.Context) error
	// Setup runs once per boot after the first successful Ready (create users, buckets, ...).
	Setup func(ctx context.Context) error

	StopSignal syscall.Signal   // the service's clean, bounded stop (SIGTERM when zero)
	StopBudget time.Duration    // then SIGKILL to its process group
	Forward    []syscall.Signal // signals of the init passed on to this service (e.g. SIGHUP)
}

// Policy sets the restart and timing rules shared by all services.
type Policy struct {
	BackoffMin   time.Duration // first restart delay, doubled on each consecutive failure
	BackoffMax   time.Duration
	ResetAfter   time.Duration // a service up this long has its failure count reset
	MaxRestarts  int           // consecutive failures tolerated before the container stops
	ReadyTimeout time.Duration // how long one start may take to pass Ready
}

// DefaultPolicy fits Docker's defaults: restarts quick at first, stop well inside 10 s.
func DefaultPolicy() Policy {
	return Policy{BackoffMin: 100 * time.Millisecond, BackoffMax: 5 * time.Second,
		ResetAfter: 30 * time.Second, MaxRestarts: 5, ReadyTimeout: 60 * time.Second}
}

// Supervisor runs a fixed list of services.
type Supervisor struct {
	services []Service
	board    *board.Board
	log      *Log
	policy   Policy
	reaper   *reaper
	fatal    chan error
}

// New checks the services (their users must exist) and returns a supervisor for them. It creates
// nothing, so a bad definition leaves no trace.
func New(services []Service, b *board.Board, log *Log, policy Policy) (*Supervisor, error) {
	for _, svc := range services {
		if svc.User != "" {
			if _, err := lookupAccount(svc.User); err != nil {
				return nil, fmt.Errorf("service %s: %w", svc.Name, err)
			}
		}
		if svc.Command.Path == "" {
			return nil, fmt.Errorf("service %s: no command", svc.Name)
		}
	}
	s := &Supervisor{services: services, board: b, log: log, policy: policy,
		reaper: sharedReaper(), fatal: make(chan error, len(services))}
	s.reaper.setOrphanHook(func(pid int, ws syscall.WaitStatus) {
		s.log.Printf("init", "reaped orphan pid %d (%s)", pid, describe(ws))
	})
	return s, nil
}

// Run starts the services in order, each after the previous one is ready, marks the container
// Ready, and supervises until ctx ends (SIGTERM) or a service fails for good; then it stops the
// services in reverse order. It returns nil after a clean stop, else the reason for the failure.
func (s *Supervisor) Run(ctx context.Context) error {
	began := time.Now()
	fwd := make(chan os.Signal, 4)
	signal.Notify(fwd, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(fwd)

	var units []*unit
	var failure error
	// stopAll stops the units in reverse order and says which of them did not stop cleanly.
	stopAll := func() []string {
		s.board.SetPhase(board.Stopping)
		var unclean []string
		for i := len(units) - 1; i >= 0; i-- {
			if why := units[i].stop(); why != "" {
				unclean = append(unclean, why)
			}
		}
		s.board.SetPhase(board.Stopped)
		return unclean
	}

	// await waits for a unit's first boot; a unit waiting for disk space lets the next start.
	var blocked []*unit
	await := func(u *unit, later bool) error {
		var failure error
	wait:
		for {
			select {
			case failure = <-u.ready:
			case <-u.blocked:
				if !later {
					blocked = append(blocked, u)
					return nil
				}
				continue // still waiting for space
			case failure = <-s.fatal:
			case <-ctx.Done():
			}
			break wait
		}
		if failure != nil {
			stopAll()
			return failure
		}
		if ctx.Err() != nil {
			s.log.Printf("init", "stop requested during first boot, while %s was starting; stopping", u.svc.Name)
			unclean := stopAll()
			return fmt.Errorf("%w: stopped during first boot, before %s was ready%s", ErrUnclean, u.svc.Name, listed(unclean))
		}
		return nil
	}
	for _, svc := range s.services {
		u := s.newUnit(svc)
		units = append(units, u)
		go u.run()
		if err := await(u, false); err != nil {
			return err
		}
	}
	for _, u := range blocked {
		if err := await(u, true); err != nil {
			return err
		}
	}
	s.board.SetPhase(board.Ready)
	names := make([]string, len(units))
	for i, u := range units {
		names[i] = u.svc.Name
	}
	// Scripts and tests wait for "init | ready:"; the names spare a count its plural.
	s.log.Printf("init", "ready: %d ms after the start; running: %s", time.Since(began).Milliseconds(), strings.Join(names, ", "))

	for {
		select {
		case sig := <-fwd:
			s.forward(units, sig.(syscall.Signal))
		case failure = <-s.fatal:
			s.log.Printf("init", "stopping the container: %v", failure)
			stopAll()
			return failure
		case <-ctx.Done():
			s.log.Printf("init", "stop requested; stopping services in reverse order")
			if unclean := stopAll(); len(unclean) > 0 {
				return fmt.Errorf("%w: %s", ErrUnclean, strings.Join(unclean, "; "))
			}
			return nil
		}
	}
}

// ErrUnclean marks a stop that was asked for but did not end cleanly: it came during first boot,
// or a service had to be killed or exited with a failure status.
var ErrUnclean = errors.New("stop was not clean")

func listed(problems []string) string {
	if len(problems) == 0 {
		return ""
	}
	return "; " + strings.Join(problems, "; ")
}

// forward passes a signal to the services that asked for it and drops it for the others, since the
// same signal can mean "reload" to one program and "exit" to another (SIGHUP stops Garage).
func (s *Supervisor) forward(units []*unit, sig syscall.Signal) {
	for _, u := range units {
		for _, want := range u.svc.Forward {
			if want == sig {
				if pid := u.currentPID(); pid > 0 {
					syscall.Kill(pid, sig)
				}
			}
		}
	}
}

// describe renders a wait status for the log.
func describe(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return fmt.Sprintf("killed by signal %d, %s", int(ws.Signal()), ws.Signal())
	}
	return fmt.Sprintf("exit status %d", ws.ExitStatus())
}

// ensureDir creates a service's data directory with its mode and owner, fixing both when the
// directory already exists. A volume restored by another tool may hold the data under another uid,
// which the service (never root) could not read: everything under its own directory is re-owned,
// and said in the log; when that is not allowed the error gives the command that fixes it.
func (s *Supervisor) ensureDir(name, dir string, mode os.FileMode, owner string) error {
	if mode == 0 {
		mode = 0o700
	}
	if err := os.MkdirAll(dir, mode); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	if owner == "" {
		return nil
	}
	acct, err := lookupAccount(owner)
	if err != nil {
		return err
	}
	n, other, err := reown(dir, acct.uid, acct.gid)
	if err != nil {
		return fmt.Errorf("the data in %s cannot be given to %s (%w): fix it with: chown -R %d:%d %s",
			dir, owner, err, acct.uid, acct.gid, dir)
	}
	if n > 0 {
		s.log.Printf(name, "files in %s that belonged to uid %d re-owned to %s (uid %d): %d", dir, other, owner, acct.uid, n)
	}
	return nil
}

// reown gives everything under dir that belongs to someone else to uid:gid (symbolic links
// themselves, never their targets). It returns how many entries it changed and one foreign uid.
func reown(dir string, uid, gid uint32) (n int, other uint32, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok || (st.Uid == uid && st.Gid == gid) {
			return nil
		}
		if err := os.Lchown(path, int(uid), int(gid)); err != nil {
			return unwrapPathErr(err)
		}
		// The directory itself was often just created by root: only what it holds is news.
		if path != dir {
			n++
			if st.Uid != uid {
				other = st.Uid
			}
		}
		return nil
	})
	return n, other, err
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Logf lets hooks write to the init's log under their service's name.
func (s *Supervisor) Logf(source, format string, args ...any) { s.log.Printf(source, format, args...) }
