package container

import (
	"context"
	"fmt"
	"time"

	"github.com/nixify/nixify/internal/engine"
)

// Stopped says how a stop went.
type Stopped struct {
	Name       string        `json:"name"`
	WasRunning bool          `json:"wasRunning"`
	Took       time.Duration `json:"-"`
	// TookSeconds is Took for JSON, where durations are seconds.
	TookSeconds float64 `json:"tookSeconds"`
	ExitCode    int     `json:"exitCode"`
	// Killed is true when the init did not finish its ordered shutdown within the timeout and the
	// engine sent SIGKILL (exit code 137).
	Killed bool `json:"killed"`
}

// ErrNotOurs means the named container exists but nixify did not make it.
var ErrNotOurs = fmt.Errorf("not made by nixify")

// Stop asks nixify's container to stop: the engine sends SIGTERM, the init stops its services in
// order, and after timeout the engine kills what is left.
func Stop(ctx context.Context, eng engine.Engine, name string, timeout time.Duration) (Stopped, error) {
	c, err := eng.ContainerInspect(ctx, name)
	if err != nil {
		return Stopped{}, err
	}
	if !Managed(c.Labels) {
		return Stopped{}, fmt.Errorf("container %q is %w: use docker stop", name, ErrNotOurs)
	}
	st := Stopped{Name: c.Name, WasRunning: c.Running, ExitCode: c.ExitCode}
	if !c.Running {
		return st, nil
	}
	began := time.Now()
	if err := eng.ContainerStop(ctx, c.ID, timeout); err != nil {
		return st, err
	}
	st.Took = time.Since(began)
	st.TookSeconds = st.Took.Seconds()
	after, err := eng.ContainerInspect(ctx, c.ID)
	if err != nil {
		return st, err
	}
	st.ExitCode = after.ExitCode
	st.Killed = after.ExitCode == 137
	return st, nil
}
