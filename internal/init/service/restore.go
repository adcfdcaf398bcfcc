package service

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nixify/nixify/internal/initenv"
)

// finishRestore puts in place what `nixify restore` wrote into the staging directory
// (initenv.RestoreStaging), before anything reads the data root: each of its entries (postgres,
// redis, garage, secrets) is renamed into the data root, where none of them may exist yet. A
// staging directory without the completion mark is a restore that was interrupted midway: the
// init refuses to start rather than run on half of a backup (or initdb an empty cluster beside
// it). The renames are repeatable: after a crash midway, the next boot moves what is left.
func finishRestore(c initenv.Config, logf func(format string, args ...any)) error {
	dir := filepath.Join(c.DataDir, initenv.RestoreStaging)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return refused(fmt.Errorf("read the restore in %s: %w", dir, unwrapPath(err)))
	}
	mark := filepath.Join(dir, initenv.RestoreComplete)
	if _, err := os.Stat(mark); err != nil {
		return refused(fmt.Errorf("%s holds a restore that did not finish (no %q mark): its files were never put in place, and the "+
			"volume is not started half-restored; run `nixify restore --force FILE` again (it moves this volume's data aside first)", dir, initenv.RestoreComplete))
	}
	var moved []string
	for _, e := range entries {
		if e.Name() == initenv.RestoreComplete {
			continue
		}
		target := filepath.Join(c.DataDir, e.Name())
		if _, err := os.Lstat(target); err == nil {
			return refused(fmt.Errorf("the restore in %s holds %s, and %s exists already: move one of them away and start again", dir, e.Name(), target))
		}
		if err := os.Rename(filepath.Join(dir, e.Name()), target); err != nil {
			return refused(fmt.Errorf("put the restored %s in place: %w", e.Name(), err))
		}
		moved = append(moved, e.Name())
	}
	if err := syncDir(c.DataDir); err != nil {
		return err
	}
	if err := os.Remove(mark); err != nil {
		return err
	}
	if err := os.Remove(dir); err != nil {
		return err
	}
	if len(moved) > 0 {
		logf("restore: put %s in place", strings.Join(moved, ", "))
	}
	return syncDir(c.DataDir)
}
