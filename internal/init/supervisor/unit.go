package supervisor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nixify/nixify/internal/init/board"
)

// unit is one service's life under the supervisor: prepare, start, wait until ready, restart on
// death with backoff, stop on request. Each unit has its own goroutine.
type unit struct {
	s       *Supervisor
	svc     Service
	ctx     context.Context
	cancel  context.CancelFunc
	ready   chan error    // receives once: nil when first ready, or why the first boot failed
	blocked chan struct{} // receives once if the first boot waits for disk space: start the next services
	done    chan struct{} // closed when run returns

	mu      sync.Mutex
	pid     int
	unclean string // why the last requested stop was not clean; "" when it was
}

func (s *Supervisor) newUnit(svc Service) *unit {
	ctx, cancel := context.WithCancel(context.Background())
	if svc.StopSignal == 0 {
		svc.StopSignal = syscall.SIGTERM
	}
	if svc.StopBudget == 0 {
		svc.StopBudget = 3 * time.Second
	}
	return &unit{s: s, svc: svc, ctx: ctx, cancel: cancel, ready: make(chan error, 1),
		blocked: make(chan struct{}, 1), done: make(chan struct{})}
}

func (u *unit) currentPID() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.pid
}

func (u *unit) setPID(pid int) {
	u.mu.Lock()
	u.pid = pid
	u.mu.Unlock()
	u.s.board.Update(u.svc.Name, func(e *board.Service) { e.PID = pid })
}

// restarted counts a restart on the board, with when and why.
func (u *unit) restarted(why error) {
	u.s.board.Update(u.svc.Name, func(e *board.Service) {
		e.Restarts++
		e.LastRestart, e.RestartReason = time.Now(), why.Error()
	})
}

// setDetail shows what a service not ready yet is doing ("" clears it).
func (u *unit) setDetail(what string) {
	u.s.board.Update(u.svc.Name, func(e *board.Service) { e.Detail = what })
}

func (u *unit) setState(st board.ServiceState, lastErr error) {
	u.s.board.Update(u.svc.Name, func(e *board.Service) {
		e.State = st
		if lastErr != nil {
			e.LastError = lastErr.Error()
		}
	})
}

// stop asks the unit to end its process within the budget, waits until it has, and says why the
// stop was not clean ("" when it was).
func (u *unit) stop() string {
	u.cancel()
	<-u.done
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.unclean
}

func (u *unit) setUnclean(why string) {
	u.mu.Lock()
	u.unclean = why
	u.mu.Unlock()
}

// run is the unit's goroutine.
func (u *unit) run() {
	defer close(u.done)
	name := u.svc.Name
	first := true
	report := func(err error) {
		u.setState(board.Failed, err)
		if first {
			u.ready <- err
		} else {
			u.s.fatal <- err
		}
	}

	u.setState(board.Booting, nil)
	if u.svc.DataDir != "" {
		if err := u.s.ensureDir(name, u.svc.DataDir, u.svc.DataMode, u.svc.User); err != nil {
			report(fmt.Errorf("%s: %w", name, err))
			return
		}
	}
	saidFull := false
	for u.svc.Prepare != nil {
		err := u.svc.Prepare(u.ctx, u.s)
		if err == nil {
			break
		}
		if u.ctx.Err() != nil {
			u.setState(board.Exited, nil)
			return
		}
		why := diskFull(u.svc.DataDir, err)
		if why == "" {
			report(fmt.Errorf("%s first boot: %w", name, err))
			return
		}
		if !u.waitForSpace(why, fmt.Errorf("first boot: %w", err), &saidFull, first) {
			return
		}
	}

	failures := 0
	for {
		var upSince time.Time
		err, final := u.once(&first, &upSince)
		if final {
			report(err)
			return
		}
		if u.ctx.Err() != nil {
			u.setPID(0)
			u.setState(board.Exited, nil)
			return
		}
		if why := diskFull(u.svc.DataDir, err); why != "" {
			if !u.waitForSpace(why, err, &saidFull, first) {
				return
			}
			continue
		}
		saidFull = false
		if !upSince.IsZero() && time.Since(upSince) >= u.s.policy.ResetAfter {
			failures = 0
		}
		failures++
		if failures > u.s.policy.MaxRestarts {
			report(fmt.Errorf("%s failed (failures in a row: %d), giving up: %w", name, failures, err))
			return
		}
		delay := u.s.policy.BackoffMin << (failures - 1)
		if delay > u.s.policy.BackoffMax || delay <= 0 {
			delay = u.s.policy.BackoffMax
		}
		u.s.log.Printf("init", "%s: %v; restart %d/%d in %s", name, err, failures, u.s.policy.MaxRestarts, delay)
		u.setState(board.Restarting, err)
		u.s.board.Update(name, func(e *board.Service) { e.Detail = "" })
		u.restarted(err)
		select {
		case <-time.After(delay):
		case <-u.ctx.Done():
			u.setState(board.Exited, nil)
			return
		}
	}
}

// once starts the process, waits for it to be ready (running Setup on the first time), and returns
// when it has died (why) or when the unit is stopped (after a clean stop). final is set when Setup
// failed: retrying it against a half-configured service would hide the problem.
func (u *unit) once(first *bool, upSince *time.Time) (err error, final bool) {
	p, err := u.s.spawn(u.svc.Name, u.svc.Command)
	if err != nil {
		return err, false
	}
	u.setPID(p.pid)
	u.setState(board.Booting, nil)

	probe, cancelProbe := context.WithCancel(u.ctx)
	defer cancelProbe()
	readyErr := make(chan error, 1)
	go func() { readyErr <- u.waitReady(probe) }()

	select {
	case ws := <-p.exit:
		u.killGroup(p.pid)
		return fmt.Errorf("exited before ready (%s)%s", describe(ws), saying(p.lastLine)), false
	case <-u.ctx.Done():
		u.terminate(p)
		return nil, false
	case err := <-readyErr:
		if err != nil {
			if u.ctx.Err() != nil {
				u.terminate(p)
				return nil, false
			}
			if isPermanent(err) {
				// Waiting cannot fix it (a wrong role on an existing cluster): say so now.
				u.terminate(p)
				return fmt.Errorf("%s not ready: %w", u.svc.Name, err), true
			}
			u.s.log.Printf("init", "%s: %v; killing it", u.svc.Name, err)
			u.kill(p)
			return err, false
		}
	}

	if *first && u.svc.Setup != nil {
		if err := u.svc.Setup(u.ctx); err != nil {
			u.terminate(p)
			if u.ctx.Err() != nil {
				return nil, false
			}
			return fmt.Errorf("%s setup: %w", u.svc.Name, err), true
		}
	}
	u.setState(board.Running, nil)
	u.setDetail("")
	*upSince = time.Now()
	if *first {
		*first = false
		u.s.log.Printf("init", "%s ready (pid %d)", u.svc.Name, p.pid)
		u.ready <- nil
	} else {
		u.s.log.Printf("init", "%s ready again (pid %d)", u.svc.Name, p.pid)
	}

	select {
	case ws := <-p.exit:
		u.killGroup(p.pid)
		u.setPID(0)
		return fmt.Errorf("exited (%s)%s", describe(ws), saying(p.lastLine)), false
	case <-u.ctx.Done():
		u.terminate(p)
		return nil, false
	}
}

// waitForSpace is what a unit does when its service failed for want of disk space: restarting
// cannot help until there is room, and giving up would take the services that run fine down with
// this one. It says once what fixes it, shows it on the board, lets the first boot go on with the
// next services, and waits the longest backoff before the next try; false means the unit was
// stopped meanwhile.
func (u *unit) waitForSpace(why string, err error, said *bool, first bool) bool {
	name, delay := u.svc.Name, u.s.policy.BackoffMax
	if !*said {
		u.s.log.Printf("init", "%s cannot run: %s; the other services keep running and %s is tried again every %s", name, why, name, delay)
		*said = true
	}
	u.setState(board.Restarting, err)
	u.s.board.Update(name, func(e *board.Service) { e.Detail = why })
	u.restarted(err)
	if first {
		select {
		case u.blocked <- struct{}{}:
		default:
		}
	}
	select {
	case <-time.After(delay):
		return true
	case <-u.ctx.Done():
		u.setState(board.Exited, nil)
		return false
	}
}

// saying appends a child's last words (redacted by the log) to why it exited.
func saying(lastLine string) string {
	if lastLine == "" {
		return ""
	}
	return ": " + lastLine
}

// minFree is the room a service's data volume needs: less, and a failed start is taken for a full
// disk (PostgreSQL asks for 16 MB at a time for its write-ahead log).
const minFree = 16 << 20

// diskFull says why a service's failure is a full disk ("" when it is not): it said "No space
// left on device", or its data directory has less than minFree left.
func diskFull(dir string, err error) string {
	if dir == "" || err == nil {
		return ""
	}
	var st syscall.Statfs_t
	if serr := syscall.Statfs(dir, &st); serr != nil {
		return ""
	}
	free := st.Bavail * uint64(st.Bsize)
	if msg := strings.ToLower(err.Error()); free >= minFree && !strings.Contains(msg, "no space left on device") {
		return ""
	}
	return fmt.Sprintf("the disk holding %s is full (%d MB free of %d MB): free space on that volume or grow it",
		dir, free>>20, (st.Blocks*uint64(st.Bsize))>>20)
}

// terminate stops the process the service's way, waits its budget, then kills its whole group.
func (u *unit) terminate(p *process) {
	name := u.svc.Name
	syscall.Kill(p.pid, u.svc.StopSignal)
	select {
	case ws := <-p.exit:
		u.s.log.Printf("init", "%s stopped (%s)", name, describe(ws))
		// Dying of the stop signal itself is obeying it (a shell does); anything else is not clean.
		if obeyed := ws.Signaled() && ws.Signal() == u.svc.StopSignal; !obeyed && (!ws.Exited() || ws.ExitStatus() != 0) {
			u.setUnclean(fmt.Sprintf("%s stopped with %s", name, describe(ws)))
		}
	case <-time.After(u.svc.StopBudget):
		u.s.log.Printf("init", "%s did not stop within %s after %s; sending SIGKILL", name, u.svc.StopBudget, u.svc.StopSignal)
		u.kill(p)
		u.setUnclean(fmt.Sprintf("%s had to be killed (no stop within %s)", name, u.svc.StopBudget))
	}
	u.killGroup(p.pid)
}

// kill ends the process group at once and waits for the leader's status.
func (u *unit) kill(p *process) {
	u.killGroup(p.pid)
	<-p.exit
}

// killGroup kills what the service left in its process group (for example PostgreSQL backends
// after the postmaster died), so a restart does not meet old processes holding its resources.
func (u *unit) killGroup(pgid int) {
	syscall.Kill(-pgid, syscall.SIGKILL)
}

// permanentError is a readiness error that waiting cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks a Ready error that waiting or restarting cannot fix (say what fixes it in err):
// the supervisor reports it at once instead of retrying until the ready timeout.
func Permanent(err error) error { return permanentError{err} }

func isPermanent(err error) bool {
	var pe permanentError
	return errors.As(err, &pe)
}

// progressError is a Ready error saying the service is busy getting ready and how far it is.
type progressError struct {
	what string // "loading dataset 42%"
	mark int64  // grows while the work advances (bytes loaded, ...)
}

func (e progressError) Error() string { return e.what }

// Progress is what Ready returns while the service is working its way to ready (Redis loading its
// dataset): what (shown in the health output while it lasts) and a mark that grows as the work
// advances. The supervisor waits as long as the mark keeps moving, and gives up only when it has
// not moved for the ready timeout: loading is progress, not failure.
func Progress(what string, mark int64) error { return progressError{what, mark} }

// waitReady calls Ready until it succeeds, fails for good, or ctx ends: every 5 ms at first, at
// most every 20 ms, since most services are up in well under a second and each step of the boot
// waits for this one; every 250 ms while the service reports progress. It gives up when the ready
// timeout passes without the service becoming ready or its progress moving, and shows the
// progress on the board meanwhile.
func (u *unit) waitReady(ctx context.Context) error {
	ready, timeout := u.svc.Ready, u.s.policy.ReadyTimeout
	if ready == nil {
		return nil
	}
	delay := 5 * time.Millisecond
	deadline := time.Now().Add(timeout)
	var mark int64 = -1
	progressed := false
	for {
		callCtx, cancel := context.WithDeadline(ctx, deadline)
		err := ready(callCtx)
		cancel()
		if err == nil || isPermanent(err) {
			return err
		}
		var pe progressError
		if errors.As(err, &pe) {
			if pe.mark != mark {
				mark, progressed, deadline = pe.mark, true, time.Now().Add(timeout)
			}
			if ctx.Err() == nil { // else the unit has moved on, and the board says why
				u.setDetail(pe.what)
			}
			delay = 250 * time.Millisecond
		}
		if time.Now().After(deadline) {
			if progressed {
				return fmt.Errorf("no progress for %s: %w", timeout, err)
			}
			return fmt.Errorf("not ready after %s: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(min(delay, time.Until(deadline)+time.Millisecond)):
		}
		if delay < 250*time.Millisecond {
			delay = min(2*delay, 20*time.Millisecond)
		}
	}
}
