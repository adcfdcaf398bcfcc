package container

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/engine"
)

// Spec is the container nixify runs.
type Spec struct {
	Name    string // container name
	ImageID string // sha256:... as Load returned it
	Arch    arch.Arch
	Volume  string // named volume mounted on /data
	Bind    string // host address of the published ports
	Port    int    // host port of the health server
	Publish []config.Publish
	Env     []string
	// ImageEnv is the image's own environment, under Env; Prepare reads it from the engine.
	ImageEnv []string
	// Replace removes an existing container of the same name (nixify's or not) instead of failing;
	// ReplaceOwn removes it only when nixify made it.
	Replace    bool
	ReplaceOwn bool
	// StopTimeout is how long the engine waits for the init's ordered shutdown before SIGKILL.
	StopTimeout time.Duration
	Version     string // nixify's version, recorded in a label
}

// Ports are the host bindings the spec asks for.
func (s Spec) Ports() []engine.PortBinding {
	return Bindings(s.Bind, s.Port, s.Publish, inside(s.environment()))
}

// environment is what the container's processes will see: the image's, then the health server's
// port, then the user's.
func (s Spec) environment() []string {
	return append(append(slices.Clone(s.ImageEnv), "APP_PORT="+strconv.Itoa(HealthPort)), s.Env...)
}

// EnvError is an environment nixify-init would refuse, in the init's own words: found before the
// container is made (or an old one removed) rather than from the new container's first log line.
type EnvError struct{ Err error }

func (e *EnvError) Error() string { return "the container's environment: " + e.Err.Error() }
func (e *EnvError) Unwrap() error { return e.Err }

// ErrExists means a container of the name exists and Replace was not asked.
var ErrExists = errors.New("container exists")

// ExistsError says what holds the name, so the hint can fit: nixify's container running,
// stopped from another image or with other settings, or a container nixify did not make.
type ExistsError struct {
	Name  string
	State string // the engine's state: running, exited, created, paused, restarting, dead
	Ours  bool
	// Differs says why a stopped container of nixify's cannot simply be started again ("another
	// image", "other ports", "another environment"); empty when it is running or not ours.
	Differs string
	// Raced is a name taken after Prepare looked: another run (or anyone) created it meanwhile.
	Raced  bool
	holder engine.Container
}

func (e *ExistsError) Error() string {
	switch {
	case e.Raced && e.Ours && e.Differs == "":
		return fmt.Sprintf("%s: %q was created by another nixify run at the same time", ErrExists, e.Name)
	case e.Raced && e.Ours:
		return fmt.Sprintf("%s: %q was created by another nixify run at the same time, with %s", ErrExists, e.Name, e.Differs)
	case e.Raced && e.State == "being created":
		return fmt.Sprintf("%s: %q was created by someone else at the same time", ErrExists, e.Name)
	case !e.Ours:
		return fmt.Sprintf("%s: %q is a container not made by nixify (%s)", ErrExists, e.Name, e.State)
	case e.Differs != "":
		return fmt.Sprintf("%s: %q is nixify's container (%s) with %s", ErrExists, e.Name, e.State, e.Differs)
	}
	return fmt.Sprintf("%s: %q is nixify's container (%s)", ErrExists, e.Name, e.State)
}

func (e *ExistsError) Unwrap() error { return ErrExists }

// PortInUseError names a host port that something else holds.
type PortInUseError struct {
	Bind string
	Port int
	Err  string
	// Twice is a port the spec itself asks for twice: the user's input is wrong (exit 2).
	Twice bool
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("cannot publish port %d on %s: %s", e.Port, e.Bind, e.Err)
}

// VolumeInUseError names the running containers that already mount the data volume: two
// PostgreSQL servers on one data directory corrupt it.
type VolumeInUseError struct {
	Volume string
	Users  []string
}

func (e *VolumeInUseError) Error() string {
	return fmt.Sprintf("volume %q is in use by the running container %s: two servers on one data directory corrupt it", e.Volume, strings.Join(e.Users, ", "))
}

// Action is what Prepare decided to do with the container name.
type Action int

const (
	CreateNew     Action = iota // no container of the name: create one
	StartExisting               // nixify's stopped container of the same image and settings: start it again
	ReplaceOld                  // remove the old container, then create
	// AlreadyRunning is nixify's container of the same image and settings, running: nothing to
	// do, as `nixify start` of a running container does nothing (both exit 0).
	AlreadyRunning
	// CreatedMeanwhile is nixify's container of the same image and settings that another run
	// created between Prepare and Apply: this run waits for it as for AlreadyRunning.
	CreatedMeanwhile
)

// Plan is the outcome of Prepare: every check is done, nothing is changed yet.
type Plan struct {
	Action Action
	Old    engine.Container // the container of the name, for StartExisting and ReplaceOld
	Spec   Spec
	// Replaced says how the old container stopped, once Apply replaced it.
	Replaced *Stopped
}

// ArchError is an image of another architecture than the one asked for: the engine would refuse
// to create the container only after the old one was removed.
type ArchError struct {
	Image      string
	Has, Wants string // GOARCH names: amd64, arm64
}

func (e *ArchError) Error() string {
	return fmt.Sprintf("image %s is for %s, not %s", shortID(e.Image), e.Has, e.Wants)
}

func shortID(id string) string {
	if len(id) > 19 && strings.HasPrefix(id, "sha256:") {
		return id[:19]
	}
	return id
}

// Prepare decides what run does and checks everything that can be checked before anything is
// changed: what holds the name, whether each host port is free (ports the old container holds
// count as free when it is replaced), and that no other running container mounts the volume. A
// failed check leaves the engine as it was.
func Prepare(ctx context.Context, eng engine.Engine, s Spec) (*Plan, error) {
	img, err := eng.ImageInspect(ctx, s.ImageID)
	if err != nil {
		return nil, err
	}
	s.ImageEnv = img.Env
	if s.Arch != "" && img.Architecture != "" && img.Architecture != s.Arch.GOARCH() {
		return nil, &ArchError{Image: s.ImageID, Has: img.Architecture, Wants: s.Arch.GOARCH()}
	}
	if _, err := ReadInside(s.environment()); err != nil {
		return nil, &EnvError{Err: err}
	}
	p := &Plan{Action: CreateNew, Spec: s}
	old, err := eng.ContainerInspect(ctx, s.Name)
	switch {
	case errors.Is(err, engine.ErrNotFound):
	case err != nil:
		return nil, err
	case s.Replace:
		p.Action, p.Old = ReplaceOld, old
	case !Managed(old.Labels):
		return nil, &ExistsError{Name: s.Name, State: old.State, Ours: false}
	case old.Running && differs(old, s) == "":
		p.Action, p.Old = AlreadyRunning, old
		return p, nil
	case s.ReplaceOwn && (differs(old, s) != "" || old.State == "paused" || old.State == "restarting"):
		// up replaces its own container only when it would run something else: the same image and
		// settings keep running (or start again, stopped) with no restart of the database.
		p.Action, p.Old = ReplaceOld, old
	case old.Running || old.State == "paused" || old.State == "restarting":
		return nil, &ExistsError{Name: s.Name, State: old.State, Ours: true, Differs: differs(old, s)}
	default:
		if why := differs(old, s); why != "" {
			return nil, &ExistsError{Name: s.Name, State: old.State, Ours: true, Differs: why}
		}
		p.Action, p.Old = StartExisting, old
	}
	if err := p.checkVolume(ctx, eng); err != nil {
		return nil, err
	}
	if err := p.checkPorts(local(eng.Endpoint())); err != nil {
		return nil, err
	}
	return p, nil
}

// differs says why a stopped container cannot stand for the spec ("" when it can): another image,
// other published ports, or an environment that lacks an item asked for.
func differs(old engine.Container, s Spec) string {
	if old.Image != s.ImageID {
		return "another image"
	}
	want := s.Ports()
	if len(want) != len(old.Ports) {
		return "other published ports"
	}
	for _, b := range want {
		if !slices.Contains(old.Ports, b) {
			return "other published ports"
		}
	}
	for _, kv := range s.Env {
		if !slices.Contains(old.Env, kv) {
			k, _, _ := strings.Cut(kv, "=")
			return "another value of " + k
		}
	}
	if v := volumeOf(old); v != "" && v != s.Volume {
		return "another volume (" + v + ")"
	}
	return ""
}

func volumeOf(c engine.Container) string {
	for _, m := range c.Volumes {
		if m.Target == DataDir {
			return m.Volume
		}
	}
	return c.Labels[LabelVolume]
}

func (p *Plan) checkVolume(ctx context.Context, eng engine.Engine) error {
	self := ""
	if p.Action == ReplaceOld {
		self = p.Old.ID // it goes away first
	}
	return volumeFree(ctx, eng, p.Spec.Volume, self)
}

// volumeFree refuses the volume when a running container other than self (an ID) mounts it.
func volumeFree(ctx context.Context, eng engine.Engine, volume, self string) error {
	users, err := eng.ContainersUsingVolume(ctx, volume)
	if err != nil {
		return err
	}
	var names []string
	for _, c := range users {
		if c.ID != self {
			names = append(names, c.Name)
		}
	}
	if len(names) > 0 {
		return &VolumeInUseError{Volume: volume, Users: names}
	}
	return nil
}

// checkPorts refuses a host port asked for twice and, when the engine's ports are this machine's
// (local), a port something already listens on.
func (p *Plan) checkPorts(local bool) error {
	seen := map[int]bool{}
	for _, b := range p.Spec.Ports() {
		if seen[b.HostPort] {
			return &PortInUseError{Bind: b.HostIP, Port: b.HostPort, Err: "asked for twice (the health server and a service, or two services)", Twice: true}
		}
		seen[b.HostPort] = true
		if !local {
			continue
		}
		if p.Action == ReplaceOld && p.Old.Running && slices.ContainsFunc(p.Old.Ports, func(o engine.PortBinding) bool {
			return o.HostPort == b.HostPort && (o.HostIP == b.HostIP || o.HostIP == "" || o.HostIP == "0.0.0.0")
		}) {
			continue // the old container frees it
		}
		if err := portFree(b.HostIP, b.HostPort); err != nil {
			return err
		}
	}
	return nil
}

// Apply carries the plan out: it makes sure the data volume exists and creates the container (not
// started), and returns its ID. When replacing, the new container is created under a temporary
// name first, so that whatever the engine refuses at create leaves the old one untouched; only then
// is the old one stopped in order (as `nixify stop` does: the init shuts its services down, no
// SIGKILL while PostgreSQL writes), removed, and the new one given the name.
func (p *Plan) Apply(ctx context.Context, eng engine.Engine) (string, error) {
	s := p.Spec
	if p.Action == StartExisting || p.Action == AlreadyRunning {
		return p.Old.ID, nil
	}
	if err := ensureVolume(ctx, eng, s.Volume); err != nil {
		return "", err
	}
	if p.Action != ReplaceOld {
		id, err := p.create(ctx, eng, s.Name)
		// Two runs of the same name at once: the one that lost the race to create it finds the
		// other's container, the same as its own would have been, and uses it.
		var ee *ExistsError
		if errors.As(err, &ee) && ee.Raced && ee.Ours && ee.Differs == "" && ee.holder.ID != "" {
			p.Action, p.Old = CreatedMeanwhile, ee.holder
			return ee.holder.ID, nil
		}
		return id, err
	}
	// A name of this run's own: two replaces at once never touch each other's new container (the
	// second finds the old one gone and gives up), and clean finds one a crash left behind.
	temp := ReplacingName(s.Name)
	id, err := p.create(ctx, eng, temp)
	if err != nil {
		return "", err
	}
	undo := func(err error) (string, error) {
		_ = eng.ContainerRemove(context.WithoutCancel(ctx), id)
		return "", err
	}
	st, err := stop(ctx, eng, p.Old, max(StopTimeoutOf(p.Old), s.StopTimeout))
	if err != nil {
		return undo(err)
	}
	p.Replaced = &st
	// From here the swap is finished even on Ctrl-C: stopping between the removal and the rename
	// would leave neither container.
	ctx = context.WithoutCancel(ctx)
	if err := eng.ContainerRemove(ctx, p.Old.ID); err != nil && !errors.Is(err, engine.ErrNotFound) {
		return undo(err)
	}
	if err := eng.ContainerRename(ctx, id, s.Name); err != nil {
		return undo(err)
	}
	return id, nil
}

// replacingInfix names the new container while it waits for the old one's name.
const replacingInfix = "-nixify-replacing-"

// ReplacingName is a new container's name while it waits for name: unique to the run.
func ReplacingName(name string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return name + replacingInfix + hex.EncodeToString(b)
}

// isReplacing reports whether c is a new container for name that a replace left behind.
func isReplacing(c, name string) bool { return strings.HasPrefix(c, name+replacingInfix) }

// hostname is the host name a container named name gets, so that the init's status page (which
// shows its host name) names the container the user knows, not the engine's short ID: the name
// itself where it is a valid host name (RFC 1123 label), else none (the engine's default).
func hostname(name string) string {
	if !validHostname.MatchString(name) {
		return ""
	}
	return name
}

var validHostname = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// create creates the spec's container under name.
func (p *Plan) create(ctx context.Context, eng engine.Engine, name string) (string, error) {
	s := p.Spec
	platform := ""
	if s.Arch != "" {
		platform = s.Arch.Platform()
	}
	id, err := eng.ContainerCreate(ctx, engine.ContainerSpec{
		Name:  name,
		Image: s.ImageID,
		Labels: map[string]string{
			LabelManaged: "true", LabelConfigDigest: s.ImageID, LabelArch: s.Arch.String(),
			LabelVolume: s.Volume, LabelVersion: s.Version,
		},
		Env:         append([]string{"APP_PORT=" + strconv.Itoa(HealthPort)}, s.Env...),
		Ports:       s.Ports(),
		Volumes:     []engine.VolumeMount{{Volume: s.Volume, Target: DataDir}},
		Platform:    platform,
		StopTimeout: s.StopTimeout,
		Hostname:    hostname(s.Name),
	})
	if errors.Is(err, engine.ErrConflict) {
		// Another nixify (or anyone) took the name since Prepare looked: say who holds it. The
		// engine reserves the name before the other container can be inspected, so the holder
		// may be "not found" for a moment: ask again, within a deadline.
		if now, ok := holder(ctx, eng, name); ok {
			return "", &ExistsError{Name: name, State: now.State, Ours: Managed(now.Labels), Differs: differs(now, s), Raced: true, holder: now}
		}
		return "", &ExistsError{Name: name, State: "being created", Raced: true}
	}
	return id, err
}

// holderWait bounds how long create asks who holds a name the engine said is taken.
const holderWait = 10 * time.Second

// holder is the container that holds name, asked until it can be inspected or holderWait passed.
func holder(ctx context.Context, eng engine.Engine, name string) (engine.Container, bool) {
	deadline := time.Now().Add(holderWait)
	for {
		c, err := eng.ContainerInspect(ctx, name)
		if err == nil {
			return c, true
		}
		if !errors.Is(err, engine.ErrNotFound) || time.Now().After(deadline) {
			return engine.Container{}, false
		}
		select {
		case <-ctx.Done():
			return engine.Container{}, false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Start starts the container and returns the channel that reports its exit, asked for before the
// start so that an immediate exit is not missed. A port taken between the check and the start is
// reported as a PortInUseError; a container created for this run is then removed again.
func Start(ctx context.Context, eng engine.Engine, id string, removeOnFailure bool, ports []engine.PortBinding) (<-chan engine.Exit, error) {
	waitCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	exited := eng.ContainerWait(waitCtx, id)
	if err := eng.ContainerStart(ctx, id); err != nil {
		cancel()
		msg := err.Error()
		if strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "address already in use") {
			if removeOnFailure {
				_ = eng.ContainerRemove(context.WithoutCancel(ctx), id)
			}
			pe := &PortInUseError{Err: "the port is already in use"}
			if len(ports) > 0 {
				pe.Bind, pe.Port = ports[0].HostIP, ports[0].HostPort
			}
			// The engine names the port it could not bind: point at that one.
			for _, b := range ports {
				if strings.Contains(msg, ":"+strconv.Itoa(b.HostPort)) {
					pe.Bind, pe.Port = b.HostIP, b.HostPort
				}
			}
			return nil, pe
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

// CheckPorts checks that the host ports a stopped container publishes are free before it is
// started again (start, restart of a stopped container).
func CheckPorts(eng engine.Engine, c engine.Container) error {
	if !local(eng.Endpoint()) || c.Running {
		return nil
	}
	for _, b := range c.Ports {
		if err := portFree(b.HostIP, b.HostPort); err != nil {
			return err
		}
	}
	return nil
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
