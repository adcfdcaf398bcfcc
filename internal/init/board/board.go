// Package board is the init's record of what it is doing: the lifecycle phase of the container and
// the state of each service. The supervisor writes it; the health server and the healthcheck read it.
// It lives apart from both so that neither depends on the other.
package board

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Phase is where the container is in its life.
type Phase string

const (
	Starting Phase = "starting" // services are being initialized and started, in order
	Ready    Phase = "ready"    // every enabled service started and passed its readiness probe once
	Stopping Phase = "stopping" // an ordered shutdown is under way
	Stopped  Phase = "stopped"  // every service has exited
)

// ServiceState is what the supervisor knows about one service's process.
type ServiceState string

const (
	Disabled   ServiceState = "disabled"   // not in NIXIFY_SERVICES: not started, not checked
	Waiting    ServiceState = "waiting"    // enabled, waiting for its turn in the start order
	Booting    ServiceState = "booting"    // first-boot step or process started, not ready yet
	Running    ServiceState = "running"    // process up and readiness probe passed
	Restarting ServiceState = "restarting" // exited unexpectedly; waiting out its backoff
	Failed     ServiceState = "failed"     // gave up after too many restarts, or first boot failed
	Exited     ServiceState = "exited"     // stopped on purpose during shutdown
)

// Service is one service's entry in a snapshot.
type Service struct {
	Name      string       `json:"name"`
	State     ServiceState `json:"state"`
	PID       int          `json:"pid,omitempty"`
	Port      int          `json:"port,omitempty"`
	Restarts  int          `json:"restarts"`
	Since     time.Time    `json:"since"`
	LastError string       `json:"lastError,omitempty"`
	// Detail is what a service that is not ready yet reports doing ("loading dataset 42%").
	Detail string `json:"detail,omitempty"`
	// LastRestart is when the supervisor last restarted the service, and RestartReason why.
	LastRestart   time.Time `json:"lastRestart,omitzero"`
	RestartReason string    `json:"restartReason,omitempty"`
}

// Snapshot is a consistent copy of the board at one moment.
type Snapshot struct {
	// Version grows with every change, so a reader can tell whether anything changed since.
	Version  uint64    `json:"-"`
	Phase    Phase     `json:"phase"`
	Started  time.Time `json:"started"`
	Services []Service `json:"services"`
}

// Service returns the named service's entry and whether it exists.
func (s Snapshot) Service(name string) (Service, bool) {
	for _, svc := range s.Services {
		if svc.Name == name {
			return svc, true
		}
	}
	return Service{}, false
}

// Source is anything that can report a snapshot and its changes; the health server depends only
// on this.
type Source interface {
	Snapshot() Snapshot
	// Changed returns a channel that is closed at the next change after the call.
	Changed() <-chan struct{}
	// Version is the Version of the snapshot Snapshot would return now, read without copying it.
	Version() uint64
}

// Board is the concurrency-safe Source the supervisor writes to.
type Board struct {
	mu       sync.Mutex
	phase    Phase
	started  time.Time
	services []Service
	now      func() time.Time
	version  atomic.Uint64 // read without the lock by Version: every /health request asks
	changed  chan struct{} // closed and replaced on every change
}

// NewBoard returns a board in the Starting phase listing the given services, all Waiting.
func NewBoard(names ...string) *Board {
	b := &Board{phase: Starting, now: time.Now, changed: make(chan struct{})}
	b.started = b.now()
	for _, n := range names {
		b.services = append(b.services, Service{Name: n, State: Waiting, Since: b.started})
	}
	return b
}

// SetPhase moves the container to a new phase.
func (b *Board) SetPhase(p Phase) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.phase != p {
		b.phase = p
		b.bump()
	}
}

// bump records a change and wakes whoever waits on Changed; b.mu is held.
func (b *Board) bump() {
	b.version.Add(1)
	close(b.changed)
	b.changed = make(chan struct{})
}

// Version counts the changes so far.
func (b *Board) Version() uint64 { return b.version.Load() }

// Changed returns a channel closed at the next change: the health server probes a service the
// moment the supervisor says it is running, instead of at its next scheduled check.
func (b *Board) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changed
}

// Update changes one service's entry through fn, adding it if it is not listed yet. Since is set
// whenever the state changes.
func (b *Board) Update(name string, fn func(*Service)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := slices.IndexFunc(b.services, func(s Service) bool { return s.Name == name })
	if i < 0 {
		b.services = append(b.services, Service{Name: name, State: Waiting, Since: b.now()})
		i = len(b.services) - 1
	}
	before := b.services[i]
	fn(&b.services[i])
	if b.services[i].State != before.State {
		b.services[i].Since = b.now()
	}
	if b.services[i] != before {
		b.bump()
	}
}

// Snapshot returns a copy that later updates do not change.
func (b *Board) Snapshot() Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Snapshot{Version: b.version.Load(), Phase: b.phase, Started: b.started, Services: slices.Clone(b.services)}
}
