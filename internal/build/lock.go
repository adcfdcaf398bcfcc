package build

import (
	"slices"
	"strings"
	"sync/atomic"

	"github.com/nixify/nixify/internal/nix"
)

// readOnlyLock returns n set never to write flake.lock. Nix writes (and git-adds) a lock file into
// a checkout whose flake has inputs but no lock, or an outdated one: the tree turns dirty,
// self.rev disappears, and the image's revision label, the record and the pushed tags would name
// "dirty" instead of the commit. A committed flake.lock is still honoured; a missing one is
// computed in memory, as for a read-only source.
func readOnlyLock(n *nix.Nix) *nix.Nix {
	if slices.Contains(n.LockFlags, "--no-write-lock-file") {
		return n
	}
	c := *n
	c.LockFlags = append(slices.Clip(n.LockFlags), "--no-write-lock-file")
	return &c
}

// lockWatch passes nix's events on to next and notes Nix's warning that it did not write a
// modified lock file: Nix then evaluates the flake as dirty (self.rev is gone, and the image's
// revision label says so), so the record must not claim the commit either.
type lockWatch struct {
	next     func(*nix.Event)
	unlocked atomic.Bool
}

func (w *lockWatch) event(e *nix.Event) {
	if e.Action == nix.ActionMsg && strings.Contains(e.RawMsg+e.Msg, "not writing modified lock file") {
		w.unlocked.Store(true)
	}
	if w.next != nil {
		w.next(e)
	}
}
