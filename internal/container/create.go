package container

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/engine"
)

// Spec is the container nixify runs.
type Spec struct {
	Name    string // container name
	ImageID string // sha256:... as Load returned it
	Arch    arch.Arch
	Volume  string // named volume mounted on /data
	Bind    string // host address of the published health port
	Port    int    // host port of the health server
	Env     []string
	// Replace removes an existing container of the same name (nixify's or not) instead of failing;
	// ReplaceOwn removes it only when nixify made it.
	Replace    bool
	ReplaceOwn bool
	// StopTimeout is how long the engine waits for the init's ordered shutdown before SIGKILL.
	StopTimeout time.Duration
	Version     string // nixify's version, recorded in a label
}

// ErrExists means a container of the name exists and Replace was not asked.
var ErrExists = errors.New("container exists")

// PortInUseError names a host port that something else holds.
type PortInUseError struct {
	Bind string
	Port int
	Err  string
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("cannot publish port %d on %s: %s", e.Port, e.Bind, e.Err)
}

// Create makes the container (not started): it replaces an old one when asked, creates the data
// volume with nixify's label, checks the host port is free and creates the container with nixify's
// labels. It returns the container ID.
func Create(ctx context.Context, eng engine.Engine, s Spec) (string, error) {
	old, err := eng.ContainerInspect(ctx, s.Name)
	switch {
	case err == nil && !s.Replace && !(s.ReplaceOwn && Managed(old.Labels)):
		what := "a container not made by nixify"
		if Managed(old.Labels) {
			what = "nixify's container (" + old.State + ")"
		}
		return "", fmt.Errorf("%w: %q is %s", ErrExists, s.Name, what)
	case err == nil:
		if err := eng.ContainerRemove(ctx, old.ID); err != nil {
			return "", err
		}
	case !errors.Is(err, engine.ErrNotFound):
		return "", err
	}
	if err := ensureVolume(ctx, eng, s.Volume); err != nil {
		return "", err
	}
	if local(eng.Endpoint()) {
		if err := portFree(s.Bind, s.Port); err != nil {
			return "", err
		}
	}
	platform := ""
	if s.Arch != "" {
		platform = s.Arch.Platform()
	}
	id, err := eng.ContainerCreate(ctx, engine.ContainerSpec{
		Name:  s.Name,
		Image: s.ImageID,
		Labels: map[string]string{
			LabelManaged: "true", LabelConfigDigest: s.ImageID, LabelArch: s.Arch.String(),
			LabelVolume: s.Volume, LabelVersion: s.Version,
		},
		Env:         append([]string{"APP_PORT=" + strconv.Itoa(HealthPort)}, s.Env...),
		Ports:       []engine.PortBinding{{HostIP: s.Bind, HostPort: s.Port, ContainerPort: HealthPort}},
		Volumes:     []engine.VolumeMount{{Volume: s.Volume, Target: DataDir}},
		Platform:    platform,
		StopTimeout: s.StopTimeout,
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// Start starts the container and returns the channel that reports its exit, asked for before the
// start so that an immediate exit is not missed. A port taken between Create and Start is reported
// as a PortInUseError and the container is removed.
func Start(ctx context.Context, eng engine.Engine, id string, s Spec) (<-chan engine.Exit, error) {
	waitCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	exited := eng.ContainerWait(waitCtx, id)
	if err := eng.ContainerStart(ctx, id); err != nil {
		cancel()
		msg := err.Error()
		if strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "address already in use") {
			_ = eng.ContainerRemove(context.WithoutCancel(ctx), id)
			return nil, &PortInUseError{Bind: s.Bind, Port: s.Port, Err: "the port is already in use"}
		}
		return nil, err
	}
	out := make(chan engine.Exit, 1)
	go func() {
		defer cancel()
		out <- <-exited
	}()
	return out, nil
}

func ensureVolume(ctx context.Context, eng engine.Engine, name string) error {
	// An existing volume not made by nixify is used as it is (the user may have prepared it), but
	// clean leaves it alone because it lacks the label.
	_, err := eng.VolumeInspect(ctx, name)
	if err == nil {
		return nil
	}
	if !errors.Is(err, engine.ErrNotFound) {
		return err
	}
	return eng.VolumeCreate(ctx, name, map[string]string{LabelManaged: "true"})
}

// portFree checks that nothing listens on bind:port, so that the user gets a line naming the port
// instead of the engine's "driver failed programming external connectivity".
func portFree(bind string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(bind, strconv.Itoa(port)))
	if err != nil {
		reason := "the port is already in use"
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			reason = "this machine has no such address"
		}
		return &PortInUseError{Bind: bind, Port: port, Err: reason}
	}
	return l.Close()
}

// local reports whether the engine runs on this machine, where its published ports are ours too.
func local(ep engine.Endpoint) bool { return strings.HasPrefix(ep.Host, "unix://") }
