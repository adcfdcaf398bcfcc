package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/state"
)

// Push is what the last `nixify push` wrote, so that `nixify deploy` runs that image by digest:
// the manifests never name a tag, which can move under a running pod.
type Push struct {
	Repo     string               `json:"repo"`            // REGISTRY/NAMESPACE/NAME
	Index    string               `json:"index,omitempty"` // sha256:... of the OCI index; empty for push --no-index
	Images   map[arch.Arch]string `json:"images"`          // each architecture's manifest digest
	Tags     []string             `json:"tags"`            // every tag the push moved or found in place
	PushedAt time.Time            `json:"pushedAt"`
}

// ErrNoPush means no push was recorded in the state directory.
var ErrNoPush = errors.New("no recorded push")

// Ref is the digest reference deploy runs: the index when the push wrote one, else the one
// architecture's image. An empty string when neither can be said (several images, no index).
func (p Push) Ref() string {
	if p.Index != "" {
		return p.Repo + "@" + p.Index
	}
	if len(p.Images) == 1 {
		for _, d := range p.Images {
			return p.Repo + "@" + d
		}
	}
	return ""
}

// LastPush returns the record of the last push; errors.Is(err, ErrNoPush) when there is none.
func (s Store) LastPush() (Push, error) {
	path := state.Dir(s.Dir).Pushed()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Push{}, ErrNoPush
	}
	if err != nil {
		return Push{}, fmt.Errorf("read push record: %w", err)
	}
	var p Push
	if err := json.Unmarshal(data, &p); err != nil || p.Repo == "" {
		if err == nil {
			err = errors.New("no repository")
		}
		return Push{}, fmt.Errorf("push record %s %w (%v): remove it and push again", path, ErrDamaged, err)
	}
	return p, nil
}

// SavePush records p as the last push, replacing the file whole (state.WriteFile).
func (s Store) SavePush(p Push) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return state.WriteFile(state.Dir(s.Dir).Pushed(), append(data, '\n'))
}
