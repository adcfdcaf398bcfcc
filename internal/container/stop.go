package container

import (
	"context"
	"fmt"
	"time"

	"github.com/nixify/nixify/internal/engine"
)

// DefaultStopTimeout is how long the engine waits for the init's ordered shutdown before SIGKILL,
// when nothing else is said: run records it in the container (so `docker stop` honours it too),
// and stop, restart, run --replace and clean use the container's recorded value.
const DefaultStopTimeout = 15 * time.Second

// Stopped says how a stop went.
type Stopped struct {
	Container  string        `json:"container"`
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
// order, and after timeout (zero: the container's own, see StopTimeoutOf) the engine kills what is
// left.
func Stop(ctx context.Context, eng engine.Engine, name string, timeout time.Duration) (Stopped, error) {
	c, err := eng.ContainerInspect(ctx, name)
	if err != nil {
		return Stopped{}, err
	}
	if !Managed(c.Labels) {
		return Stopped{}, fmt.Errorf("container %q is %w: use docker stop", name, ErrNotOurs)
	}
	return stop(ctx, eng, c, timeout)
}

// StopTimeoutOf is the container's own stop timeout, or DefaultStopTimeout when it has none.
func StopTimeoutOf(c engine.Container) time.Duration {
	if c.StopTimeout > 0 {
		return c.StopTimeout
	}
	return DefaultStopTimeout
}

// stop is the one ordered stop, shared by `nixify stop`, restart, run --replace and clean: a
// running container is never removed before its init has shut its services down.
func stop(ctx context.Context, eng engine.Engine, c engine.Container, timeout time.Duration) (Stopped, error) {
	st := Stopped{Container: c.Name, WasRunning: c.Running, ExitCode: c.ExitCode}
	if !c.Running && c.State != "paused" && c.State != "restarting" {
		return st, nil
	}
	st.WasRunning = true
	if timeout <= 0 {
		timeout = StopTimeoutOf(c)
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
