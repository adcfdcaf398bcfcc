package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Engine is what nixify needs from a Docker engine. Commands depend on this interface only.
type Engine interface {
	// Ping checks the engine answers and returns the API version both sides agreed on.
	Ping(ctx context.Context) (apiVersion string, err error)
	// Version describes the engine.
	Version(ctx context.Context) (Version, error)
	// Endpoint is where the engine was reached.
	Endpoint() Endpoint
	Close() error

	Images
	Containers
	Volumes
}

// Version is the engine's own description of itself.
type Version struct {
	Version       string `json:"version"`
	APIVersion    string `json:"apiVersion"`
	MinAPIVersion string `json:"minApiVersion"`
	OS            string `json:"os"`
	Arch          string `json:"arch"`
}

// Image is what the engine knows of one image it holds.
type Image struct {
	ID           string            `json:"id"` // sha256 of the image config: equals the config digest
	RepoTags     []string          `json:"repoTags"`
	Architecture string            `json:"architecture"`
	OS           string            `json:"os"`
	Size         int64             `json:"size"`
	Created      string            `json:"created"`
	Labels       map[string]string `json:"labels,omitempty"`
	// Env is the image's environment (ImageInspect only).
	Env []string `json:"-"`
}

// ErrNotFound is returned (wrapped) when the engine does not hold the image, container or volume.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned (wrapped) when a name is taken or an object is in use.
var ErrConflict = errors.New("conflict")

// ErrUnavailable is returned (wrapped) when the engine cannot be reached at all, so that commands
// can point the user to `nixify doctor` instead of reporting the operation as failed.
var ErrUnavailable = errors.New("engine unreachable")

// Images is the image part of Engine.
type Images interface {
	// ImageInspect describes an image by name or ID; errors.Is(err, ErrNotFound) when absent.
	ImageInspect(ctx context.Context, ref string) (Image, error)
	// ImageSave streams the images as a docker-archive tarball.
	ImageSave(ctx context.Context, refs ...string) (io.ReadCloser, error)
	// ImageLoad streams a docker-archive (plain, gzip or zstd) into the engine, calling progress
	// (when not nil) for each message of the engine's progress stream. It returns what the engine
	// says it loaded: "name:tag" for tagged images, "sha256:..." for untagged ones.
	ImageLoad(ctx context.Context, archive io.Reader, progress func(LoadEvent)) ([]string, error)
	// ImageRemove removes an image by name or ID; errors.Is(err, ErrNotFound) when absent and
	// errors.Is(err, ErrConflict) when a container still uses it.
	ImageRemove(ctx context.Context, ref string) error
	// ImageTag gives the image (name or ID) a further name:tag.
	ImageTag(ctx context.Context, ref, tag string) error
	// ImageList lists the images whose repository is repo (any tag).
	ImageList(ctx context.Context, repo string) ([]Image, error)
}

// LoadEvent is one message of the engine's load progress: a layer being read, or a final line.
type LoadEvent struct {
	ID      string // layer or image the message is about
	Status  string // "Loading layer", "Loaded image: name:tag", ...
	Current int64  // bytes of this layer processed so far, when known
	Total   int64
}

// Containers is the container part of Engine.
type Containers interface {
	// ContainerCreate creates (does not start) a container and returns its ID; errors.Is(err,
	// ErrConflict) when the name is taken.
	ContainerCreate(ctx context.Context, spec ContainerSpec) (string, error)
	ContainerStart(ctx context.Context, id string) error
	// ContainerWait returns a channel that receives once, when the container next exits. Ask for it
	// before ContainerStart, or an early exit is missed.
	ContainerWait(ctx context.Context, id string) <-chan Exit
	// ContainerInspect describes one container by name or ID; errors.Is(err, ErrNotFound) when absent.
	ContainerInspect(ctx context.Context, nameOrID string) (Container, error)
	// ContainerList lists containers (running or not) carrying the label key=value.
	ContainerList(ctx context.Context, labelKey, labelValue string) ([]Container, error)
	// ContainerStop sends the image's stop signal and, after timeout, SIGKILL; it returns once the
	// container has stopped.
	ContainerStop(ctx context.Context, id string, timeout time.Duration) error
	// ContainerKill sends signal (e.g. "KILL", "TERM") to the container's PID 1.
	ContainerKill(ctx context.Context, id, signal string) error
	// ContainerRemove removes a container, killing it first when it runs.
	ContainerRemove(ctx context.Context, id string) error
	// ContainerRename gives a container another name; errors.Is(err, ErrConflict) when it is taken.
	ContainerRename(ctx context.Context, id, name string) error
	// ContainerLogs copies the container's output, stdout and stderr separated, until the end of the
	// logs (or, with Follow, until the container stops or ctx ends).
	ContainerLogs(ctx context.Context, id string, opts LogOptions, stdout, stderr io.Writer) error
	// ContainerExec runs cmd inside a running container as user (empty: the image's user) and
	// returns its exit code and output.
	ContainerExec(ctx context.Context, id string, cmd []string, user string) (ExecResult, error)
	// ContainerAttachExec runs spec inside a running container with the caller's streams attached
	// (a terminal when spec.TTY) and returns the command's exit code once it ends and its output
	// is copied.
	ContainerAttachExec(ctx context.Context, id string, spec ExecSpec, streams ExecStreams) (int, error)
	// ContainerReadFile returns the contents of one regular file in the container (running or
	// not), read through the engine as root; at most limit bytes.
	ContainerReadFile(ctx context.Context, id, path string, limit int64) ([]byte, error)
	// ContainersUsingVolume lists the running containers that mount the named volume.
	ContainersUsingVolume(ctx context.Context, volume string) ([]Container, error)
	// ContainersUsingImage lists the containers, running or not, created from the image (an ID).
	ContainersUsingImage(ctx context.Context, imageID string) ([]Container, error)
}

// ExecSpec is a command to run inside a container.
type ExecSpec struct {
	Cmd  []string
	User string   // empty: the image's user
	Env  []string // KEY=VALUE items added to the container's environment
	Dir  string   // working directory; empty: the image's
	// TTY gives the command a terminal: one raw output stream, and the caller sends resizes.
	TTY bool
}

// ExecStartError is a command the container could not start (no such program, not executable):
// the engine's runtime says so in the command's output stream, with exit code 126.
type ExecStartError struct {
	Cmd    string
	Reason string // "executable file not found in $PATH"
	// NotFound is a missing program (a shell's 127) rather than one that cannot run (126).
	NotFound bool
}

func (e *ExecStartError) Error() string {
	return fmt.Sprintf("cannot run %q in the container: %s", e.Cmd, e.Reason)
}

// ExecStreams are the caller's ends of an attached exec. Stdin may be nil (nothing to send);
// Stderr is unused with a TTY (the terminal carries both). Resize, when not nil, delivers the
// caller's terminal size whenever it changes.
type ExecStreams struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Resize <-chan TermSize
}

// TermSize is a terminal's size in characters.
type TermSize struct {
	Rows, Cols uint
}

// ContainerSpec is what nixify asks of a new container.
type ContainerSpec struct {
	Name     string
	Image    string
	Labels   map[string]string
	Env      []string
	Ports    []PortBinding
	Volumes  []VolumeMount
	Platform string // "linux/arm64"; empty lets the engine choose
	// Hostname is the container's host name; empty lets the engine use the short container ID.
	Hostname string
	// StopTimeout is how long the engine waits after the stop signal before SIGKILL, for `docker
	// stop` without -t as well; zero keeps the engine's default (10 s).
	StopTimeout time.Duration
	// Entrypoint, when set, replaces the image's (a one-off helper that runs one program).
	Entrypoint []string
}

// PortBinding publishes a container TCP port on the host.
type PortBinding struct {
	HostIP        string `json:"hostIp"`
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
}

// VolumeMount mounts a named volume in the container.
type VolumeMount struct {
	Volume string `json:"volume"`
	Target string `json:"target"`
}

// Container is what the engine knows of one container.
type Container struct {
	ID      string            `json:"id"`
	Name    string            `json:"name"`
	Image   string            `json:"image"` // image ID (sha256:...)
	Labels  map[string]string `json:"labels,omitempty"`
	State   string            `json:"state"` // created, running, paused, restarting, exited, dead
	Running bool              `json:"running"`
	// ExitCode is the code of the last exit; meaningful when not running.
	ExitCode   int       `json:"exitCode"`
	OOMKilled  bool      `json:"oomKilled,omitempty"`
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// Health is the engine's own healthcheck state: starting, healthy, unhealthy, or empty when the
	// image has no healthcheck. HealthOutput is the last probe's output.
	Health       string        `json:"health,omitempty"`
	HealthOutput string        `json:"healthOutput,omitempty"`
	Ports        []PortBinding `json:"ports,omitempty"`
	Platform     string        `json:"platform,omitempty"`
	// Env is the container's environment (the image's merged with the container's own).
	Env []string `json:"-"`
	// Volumes are the named volumes the container mounts.
	Volumes []VolumeMount `json:"volumes,omitempty"`
	Created time.Time     `json:"created,omitzero"`
	// RestartCount counts the engine's restarts under a restart policy (not `docker restart`).
	RestartCount int `json:"restartCount"`
	// StopTimeout is the container's own wait before SIGKILL (ContainerSpec.StopTimeout); zero
	// when it has none and the engine's default applies (ContainerInspect only).
	StopTimeout time.Duration `json:"-"`
}

// Exit is how a container ended, as ContainerWait reports it.
type Exit struct {
	Code int64
	Err  error
}

// LogOptions choose which log lines ContainerLogs copies.
type LogOptions struct {
	Follow     bool
	Since      string // RFC 3339 time, Unix timestamp or Go duration ("10m")
	Tail       string // number of lines from the end, or "all"
	Timestamps bool
}

// ExecResult is the outcome of ContainerExec.
type ExecResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

// Volumes is the volume part of Engine.
type Volumes interface {
	// VolumeCreate creates a named volume with labels; creating an existing volume is not an error.
	VolumeCreate(ctx context.Context, name string, labels map[string]string) error
	VolumeInspect(ctx context.Context, name string) (Volume, error)
	// VolumeList lists volumes carrying the label key=value.
	VolumeList(ctx context.Context, labelKey, labelValue string) ([]Volume, error)
	// VolumeRemove removes a volume; errors.Is(err, ErrConflict) while a container uses it.
	VolumeRemove(ctx context.Context, name string) error
}

// Volume is a named volume.
type Volume struct {
	Name       string            `json:"name"`
	Labels     map[string]string `json:"labels,omitempty"`
	Mountpoint string            `json:"mountpoint"`
}
