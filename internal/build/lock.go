package build

import (
	"slices"

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
