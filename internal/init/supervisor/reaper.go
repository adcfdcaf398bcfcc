package supervisor

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// prSetChildSubreaper is prctl's PR_SET_CHILD_SUBREAPER: orphans of our children come back to us
// instead of going to the host's PID 1, so we reap them even when we are not PID 1 (tests, docker
// run --init).
const prSetChildSubreaper = 36

// reaper is the one owner of wait(2) in this process. Every child is started through it, so it can
// route each exit status to the goroutine waiting for that pid; anything else it collects is an
// orphan that was re-parented to us and is simply reaped. Because it waits for any pid, nothing else
// in the process may use os/exec's Wait: the status would be stolen.
type reaper struct {
	mu      sync.Mutex
	waiting map[int]chan syscall.WaitStatus
	orphan  func(pid int, ws syscall.WaitStatus)
}

var (
	reaperOnce sync.Once
	theReaper  *reaper
)

// sharedReaper returns the process-wide reaper, starting its goroutine on first use.
func sharedReaper() *reaper {
	reaperOnce.Do(func() {
		if os.Getpid() != 1 {
			// Best effort: without it orphans go to the real init, which reaps them anyway.
			syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
		}
		theReaper = &reaper{waiting: map[int]chan syscall.WaitStatus{}}
		sigchld := make(chan os.Signal, 1)
		signal.Notify(sigchld, syscall.SIGCHLD)
		go func() {
			theReaper.reapAll()
			for range sigchld {
				theReaper.reapAll()
			}
		}()
	})
	return theReaper
}

// setOrphanHook sets the function told about every reaped orphan (for the log).
func (r *reaper) setOrphanHook(fn func(pid int, ws syscall.WaitStatus)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.orphan = fn
}

// start forks and executes a child and returns a channel that receives its exit status once. The
// lock is held across fork and registration so the reaper cannot collect the pid before it is known.
func (r *reaper) start(path string, argv []string, attr *syscall.ProcAttr) (int, <-chan syscall.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := syscall.ForkExec(path, argv, attr)
	if err != nil {
		return 0, nil, err
	}
	ch := make(chan syscall.WaitStatus, 1)
	r.waiting[pid] = ch
	return pid, ch, nil
}

// reapAll collects every child that has exited; SIGCHLD coalesces, so one signal may stand for many.
func (r *reaper) reapAll() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
		r.mu.Lock()
		ch, ok := r.waiting[pid]
		delete(r.waiting, pid)
		hook := r.orphan
		r.mu.Unlock()
		if ok {
			ch <- ws
		} else if hook != nil {
			hook(pid, ws)
		}
	}
}
