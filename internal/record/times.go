package record

import (
	"encoding/json"
	"maps"
	"os"

	"time"

	"github.com/nixify/nixify/internal/state"
)

// Times are the last build times of derivations, by name (the store path's name without its hash,
// e.g. redis-7.2.4): a rebuild after a change has new hashes but mostly the same names, and the
// build view shows the old time as an estimate.
type Times map[string]time.Duration

// Times reads the last build times; none yet is an empty map, a damaged file too (they are only
// estimates).
func (s Store) Times() Times {
	t := Times{}
	data, err := os.ReadFile(state.Dir(s.Dir).BuildTimes())
	if err != nil {
		return t
	}
	var secs map[string]float64
	if json.Unmarshal(data, &secs) != nil {
		return t
	}
	for k, v := range secs {
		t[k] = time.Duration(v * float64(time.Second))
	}
	return t
}

// SaveTimes merges t into the kept build times.
func (s Store) SaveTimes(t Times) error {
	if len(t) == 0 {
		return nil
	}
	all := s.Times()
	maps.Copy(all, t)
	secs := make(map[string]float64, len(all))
	for k, v := range all {
		secs[k] = v.Round(time.Millisecond).Seconds()
	}
	data, err := json.MarshalIndent(secs, "", "  ")
	if err != nil {
		return err
	}
	return state.WriteFile(state.Dir(s.Dir).BuildTimes(), append(data, '\n'))
}
