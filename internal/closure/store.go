package closure

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nixify/nixify/internal/state"
)

// Store keeps the closure records of recent builds in a directory (.nixify/closures), one file
// per image output, so that `info --diff` can compare the last two builds of an architecture.
type Store struct {
	Dir string
}

// In is the closure store of a state directory.
func In(stateDir string) Store { return Store{Dir: state.Dir(stateDir).Closures()} }

// Keep is how many records per architecture the store keeps.
const Keep = 10

// ErrNone means there is no closure record.
var ErrNone = errors.New("no closure record")

// File is where the record of the image at outPath lives.
func (s Store) File(outPath string) string {
	return filepath.Join(s.Dir, filepath.Base(outPath)+".json")
}

// Save writes c atomically and drops the oldest records of its architecture beyond Keep.
func (s Store) Save(c *Closure) (string, error) {
	data, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		return "", err
	}
	p := s.File(c.OutPath)
	if err := state.WriteFile(p, append(data, '\n')); err != nil {
		return "", fmt.Errorf("closure record: %w", err)
	}
	s.prune(c.Arch)
	return p, nil
}

// Load reads one record.
func Load(p string) (*Closure, error) {
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w at %s: build again (`nixify build`) to record it", ErrNone, p)
	}
	if err != nil {
		return nil, fmt.Errorf("read closure record: %w", err)
	}
	var c Closure
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("closure record %s is damaged (%v): remove it and build again", p, err)
	}
	return &c, nil
}

// History returns the records of arch, newest build first.
func (s Store) History(arch string) ([]*Closure, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read closure records: %w", err)
	}
	var out []*Closure
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		c, err := Load(filepath.Join(s.Dir, e.Name()))
		if err != nil || (arch != "" && c.Arch != arch) {
			continue // a damaged old record does not hide the others
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].FinishedAt.After(out[j].FinishedAt) })
	return out, nil
}

func (s Store) prune(arch string) {
	all, err := s.History(arch)
	if err != nil {
		return
	}
	for _, c := range all[min(len(all), Keep):] {
		_ = os.Remove(s.File(c.OutPath))
	}
}
