package service

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// lockFile is the file in the data root that the running init holds an exclusive flock on.
const lockFile = ".nixify-init.lock"

// lockDataRoot takes an exclusive lock on the data root, or says who holds it. PostgreSQL's own
// lock file does not work across containers (each has its own PID and IPC namespaces), so two
// containers on one volume would both start a postmaster on the same cluster and both append to
// Redis's file; a flock is held by the kernel for the open file, whatever the namespaces. The lock
// lives as long as the returned file stays open: the whole life of the init.
func lockDataRoot(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, unwrapPath(err))
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := strings.TrimSpace(string(holder))
			if who == "" {
				who = "unknown"
			}
			return nil, fmt.Errorf("NIXIFY_DATA_DIR=%s is in use by another nixify-init (%s): two containers on one data volume would corrupt it; stop the other one first", dir, who)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// Who holds it, for the message of the next one that tries: the hostname is the container's id.
	host, _ := os.Hostname()
	f.Truncate(0)
	fmt.Fprintf(f, "host %s, pid %d\n", host, os.Getpid())
	return f, nil
}
