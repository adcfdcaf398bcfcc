package container

import (
	"context"

	"github.com/nixify/nixify/internal/engine"
)

// StartAgain starts nixify's existing, stopped container: its host ports must be free and no
// other running container may mount its data volume. It returns the exit channel, as Start does.
func StartAgain(ctx context.Context, eng engine.Engine, c engine.Container) (<-chan engine.Exit, error) {
	if err := CheckPorts(eng, c); err != nil {
		return nil, err
	}
	if v := volumeOf(c); v != "" {
		if err := volumeFree(ctx, eng, v, c.ID); err != nil {
			return nil, err
		}
	}
	return Start(ctx, eng, c.ID, false, c.Ports)
}
