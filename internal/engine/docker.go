package engine

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/nixify/nixify/internal/iostreams"
)

// docker implements Engine with the Docker SDK (github.com/docker/docker/client). It is the only
// place that imports the SDK.
type docker struct {
	c  *client.Client
	ep Endpoint
	t  Timeouts
}

// New connects to the engine at ep, negotiating the API version on first use. Every call is
// bounded by DefaultTimeouts unless WithTimeouts says otherwise.
func New(ep Endpoint, options ...Option) (Engine, error) {
	if strings.HasPrefix(ep.Host, "ssh://") {
		return nil, fmt.Errorf("engine %s: ssh endpoints are not supported; forward the socket (ssh -L /tmp/docker.sock:/var/run/docker.sock HOST) and set DOCKER_HOST=unix:///tmp/docker.sock", ep)
	}
	opts := []client.Opt{client.WithHost(ep.Host), client.WithAPIVersionNegotiation()}
	if ep.CertPath != "" {
		opts = append(opts, client.WithTLSClientConfig(ep.CertPath+"/ca.pem", ep.CertPath+"/cert.pem", ep.CertPath+"/key.pem"))
	}
	c, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("engine %s: %w", ep, err)
	}
	d := &docker{c: c, ep: ep, t: DefaultTimeouts}
	for _, o := range options {
		o(d)
	}
	return d, nil
}

func (d *docker) Endpoint() Endpoint { return d.ep }
func (d *docker) Close() error       { return d.c.Close() }

// call bounds a call that answers at once (limit: one of d.t's).
func (d *docker) call(ctx context.Context, limit time.Duration) (context.Context, func()) {
	ctx, dl := newDeadline(ctx, limit)
	return ctx, dl.end
}

// query runs one call that answers at once, bounded by limit, its error wrapped as what.
func query[T any](ctx context.Context, d *docker, limit time.Duration, what string, f func(context.Context) (T, error)) (T, error) {
	ctx, done := d.call(ctx, limit)
	defer done()
	v, err := f(ctx)
	if err != nil {
		return v, d.wrap(ctx, what, err)
	}
	return v, nil
}

// do is query for a call that answers with nothing but an error.
func (d *docker) do(ctx context.Context, limit time.Duration, what string, f func(context.Context) error) error {
	_, err := query(ctx, d, limit, what, func(ctx context.Context) (struct{}, error) { return struct{}{}, f(ctx) })
	return err
}

func (d *docker) Ping(ctx context.Context) (string, error) {
	ctx, done := d.call(ctx, d.t.Ping)
	defer done()
	p, err := d.c.Ping(ctx)
	if err != nil {
		if se := silence(ctx); se != nil {
			return "", unreachable("engine %s accepted the connection but gave %s", d.ep, se)
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", unreachable("engine %s does not answer: %s", d.ep, iostreams.FirstLine(err.Error()))
	}
	d.c.NegotiateAPIVersionPing(p)
	return d.c.ClientVersion(), nil
}

func (d *docker) Version(ctx context.Context) (Version, error) {
	v, err := query(ctx, d, d.t.Query, "engine version", func(ctx context.Context) (types.Version, error) { return d.c.ServerVersion(ctx) })
	if err != nil {
		return Version{}, err
	}
	return Version{Version: v.Version, APIVersion: v.APIVersion, MinAPIVersion: v.MinAPIVersion, OS: v.Os, Arch: v.Arch}, nil
}

func (d *docker) ImageInspect(ctx context.Context, ref string) (Image, error) {
	r, err := query(ctx, d, d.t.Query, "inspect image "+ref, func(ctx context.Context) (image.InspectResponse, error) { return d.c.ImageInspect(ctx, ref) })
	if err != nil {
		return Image{}, err
	}
	img := Image{ID: r.ID, RepoTags: r.RepoTags, Architecture: r.Architecture, OS: r.Os, Size: r.Size, Created: r.Created}
	if r.Config != nil {
		img.Labels, img.Env = r.Config.Labels, r.Config.Env
	}
	return img, nil
}

func (d *docker) ImageSave(ctx context.Context, refs ...string) (io.ReadCloser, error) {
	ctx, dl := newDeadline(ctx, d.t.Stall)
	rc, err := d.c.ImageSave(ctx, refs)
	if err != nil {
		err = d.wrap(ctx, "save image "+strings.Join(refs, " "), err)
		dl.end()
		return nil, err
	}
	return boundedBody{kickReader: kickReader{rc, dl}, c: rc, dl: dl, ctx: ctx, what: "save image " + strings.Join(refs, " ")}, nil
}

// wrap gives engine errors one line of context and maps them to the package's sentinels, keeping
// the engine's own words (they name the port, the container, the volume). ctx is the call's: an
// engine that stayed silent past the call's deadline is unreachable, not an operation that failed.
func (d *docker) wrap(ctx context.Context, what string, err error) error {
	msg := iostreams.FirstLine(err.Error())
	if se := silence(ctx); se != nil {
		return unreachable("%s: engine %s gave %s", what, d.ep, se)
	}
	switch {
	case client.IsErrConnectionFailed(err):
		return unreachable("%s: engine %s does not answer", what, d.ep)
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	case cerrdefs.IsConflict(err):
		return fmt.Errorf("%s: %w: %s", what, ErrConflict, trimDaemon(msg))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %s", what, trimDaemon(msg))
}

// trimDaemon drops the SDK's "Error response from daemon: " preamble, which says nothing to users.
func trimDaemon(msg string) string { return strings.TrimPrefix(msg, "Error response from daemon: ") }

func (d *docker) ImageLoad(ctx context.Context, archive io.Reader, progress func(LoadEvent)) ([]string, error) {
	// A load may take minutes; it is bounded by silence: the engine reading the archive or
	// reporting progress keeps it going.
	ctx, dl := newDeadline(ctx, d.t.Stall)
	defer dl.end()
	resp, err := d.c.ImageLoad(ctx, kickReader{archive, dl}, client.ImageLoadWithQuiet(false))
	if err != nil {
		return nil, d.wrap(ctx, "load image", err)
	}
	defer resp.Body.Close()
	if !resp.JSON {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, fmt.Errorf("load image: unexpected answer: %s", iostreams.FirstLine(string(body)))
	}
	var loaded []string
	dec := json.NewDecoder(kickReader{resp.Body, dl})
	for {
		var m struct {
			Stream         string `json:"stream"`
			Status         string `json:"status"`
			ID             string `json:"id"`
			ProgressDetail struct {
				Current int64 `json:"current"`
				Total   int64 `json:"total"`
			} `json:"progressDetail"`
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			if se := silence(ctx); se != nil {
				return nil, unreachable("load image: engine %s gave %s", d.ep, se)
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("load image: %w", ctx.Err())
			}
			return nil, fmt.Errorf("load image: read the engine's answer: %w", err)
		}
		if msg := m.ErrorDetail.Message; msg != "" || m.Error != "" {
			if msg == "" {
				msg = m.Error
			}
			return nil, fmt.Errorf("load image: the engine refused the archive: %s", iostreams.FirstLine(msg))
		}
		text := strings.TrimSpace(m.Stream)
		if text == "" {
			text = strings.TrimSpace(m.Status)
		}
		if ref, ok := strings.CutPrefix(text, "Loaded image: "); ok {
			loaded = append(loaded, ref)
		} else if id, ok := strings.CutPrefix(text, "Loaded image ID: "); ok {
			loaded = append(loaded, id)
		}
		if progress != nil && text != "" {
			progress(LoadEvent{ID: m.ID, Status: text, Current: m.ProgressDetail.Current, Total: m.ProgressDetail.Total})
		}
	}
	if len(loaded) == 0 {
		return nil, errors.New("load image: the engine loaded nothing: is this a docker-archive?")
	}
	return loaded, nil
}

func (d *docker) ImageTag(ctx context.Context, ref, tag string) error {
	return d.do(ctx, d.t.Query, "tag image "+ref, func(ctx context.Context) error { return d.c.ImageTag(ctx, ref, tag) })
}

func (d *docker) ImageList(ctx context.Context, repo string) ([]Image, error) {
	list, err := query(ctx, d, d.t.Query, "list images", func(ctx context.Context) ([]image.Summary, error) {
		return d.c.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", repo))})
	})
	if err != nil {
		return nil, err
	}
	out := make([]Image, 0, len(list))
	for _, s := range list {
		out = append(out, Image{ID: s.ID, RepoTags: s.RepoTags, Size: s.Size, Labels: s.Labels})
	}
	return out, nil
}

func (d *docker) ImageRemove(ctx context.Context, ref string) error {
	return d.do(ctx, d.t.Change, "remove image "+ref, func(ctx context.Context) error {
		_, err := d.c.ImageRemove(ctx, ref, image.RemoveOptions{PruneChildren: true})
		return err
	})
}

func (d *docker) ContainerCreate(ctx context.Context, spec ContainerSpec) (string, error) {
	ctx, done := d.call(ctx, d.t.Change)
	defer done()
	cfg := &container.Config{Image: spec.Image, Hostname: spec.Hostname, Labels: spec.Labels, Env: spec.Env, ExposedPorts: nat.PortSet{}}
	if len(spec.Entrypoint) > 0 {
		cfg.Entrypoint = spec.Entrypoint
	}
	if spec.StopTimeout > 0 {
		secs := int(spec.StopTimeout.Round(time.Second) / time.Second)
		cfg.StopTimeout = &secs
	}
	host := &container.HostConfig{PortBindings: nat.PortMap{}}
	for _, p := range spec.Ports {
		port := nat.Port(strconv.Itoa(p.ContainerPort) + "/tcp")
		cfg.ExposedPorts[port] = struct{}{}
		host.PortBindings[port] = append(host.PortBindings[port], nat.PortBinding{HostIP: p.HostIP, HostPort: strconv.Itoa(p.HostPort)})
	}
	for _, v := range spec.Volumes {
		host.Mounts = append(host.Mounts, mount.Mount{Type: mount.TypeVolume, Source: v.Volume, Target: v.Target})
	}
	var platform *ocispec.Platform
	if spec.Platform != "" {
		os, arch, _ := strings.Cut(spec.Platform, "/")
		platform = &ocispec.Platform{OS: os, Architecture: arch}
	}
	r, err := d.c.ContainerCreate(ctx, cfg, host, &network.NetworkingConfig{}, platform, spec.Name)
	if err != nil {
		return "", d.wrap(ctx, "create container "+spec.Name, err)
	}
	return r.ID, nil
}

func (d *docker) ContainerStart(ctx context.Context, id string) error {
	return d.do(ctx, d.t.Change, "start container", func(ctx context.Context) error { return d.c.ContainerStart(ctx, id, container.StartOptions{}) })
}

func (d *docker) ContainerWait(ctx context.Context, id string) <-chan Exit {
	out := make(chan Exit, 1)
	okC, errC := d.c.ContainerWait(ctx, id, container.WaitConditionNextExit)
	go func() {
		select {
		case r := <-okC:
			e := Exit{Code: r.StatusCode}
			if r.Error != nil && r.Error.Message != "" {
				e.Err = errors.New(r.Error.Message)
			}
			out <- e
		case err := <-errC:
			out <- Exit{Code: -1, Err: d.wrap(ctx, "wait for container", err)}
		}
	}()
	return out
}

func (d *docker) ContainerInspect(ctx context.Context, nameOrID string) (Container, error) {
	r, err := query(ctx, d, d.t.Query, "inspect container "+nameOrID, func(ctx context.Context) (container.InspectResponse, error) {
		return d.c.ContainerInspect(ctx, nameOrID)
	})
	if err != nil {
		return Container{}, err
	}
	c := Container{ID: r.ID, Name: strings.TrimPrefix(r.Name, "/"), Image: r.Image, Platform: r.Platform, RestartCount: r.RestartCount}
	c.Created, _ = time.Parse(time.RFC3339Nano, r.Created)
	if r.Config != nil {
		c.Labels, c.Env = r.Config.Labels, r.Config.Env
		if r.Config.StopTimeout != nil {
			c.StopTimeout = time.Duration(*r.Config.StopTimeout) * time.Second
		}
	}
	for _, m := range r.Mounts {
		if m.Type == mount.TypeVolume {
			c.Volumes = append(c.Volumes, VolumeMount{Volume: m.Name, Target: m.Destination})
		}
	}
	if st := r.State; st != nil {
		c.State, c.Running, c.ExitCode, c.OOMKilled, c.Error = string(st.Status), st.Running, st.ExitCode, st.OOMKilled, st.Error
		c.StartedAt, _ = time.Parse(time.RFC3339Nano, st.StartedAt)
		c.FinishedAt, _ = time.Parse(time.RFC3339Nano, st.FinishedAt)
		if h := st.Health; h != nil {
			c.Health = string(h.Status)
			if n := len(h.Log); n > 0 && h.Log[n-1] != nil {
				c.HealthOutput = strings.TrimSpace(h.Log[n-1].Output)
			}
		}
	}
	if r.HostConfig != nil {
		for port, bindings := range r.HostConfig.PortBindings {
			for _, b := range bindings {
				hp, _ := strconv.Atoi(b.HostPort)
				c.Ports = append(c.Ports, PortBinding{HostIP: b.HostIP, HostPort: hp, ContainerPort: port.Int()})
			}
		}
		// Map order is random: keep the ports in a stable order for tables and comparisons.
		sort.Slice(c.Ports, func(i, j int) bool { return c.Ports[i].ContainerPort < c.Ports[j].ContainerPort })
	}
	return c, nil
}

func (d *docker) ContainerList(ctx context.Context, labelKey, labelValue string) ([]Container, error) {
	return d.list(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", labelKey+"="+labelValue))})
}

func (d *docker) ContainersUsingVolume(ctx context.Context, volume string) ([]Container, error) {
	return d.list(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("volume", volume), filters.Arg("status", "running"))})
}

func (d *docker) ContainersUsingImage(ctx context.Context, imageID string) ([]Container, error) {
	all, err := d.list(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("ancestor", imageID))})
	if err != nil {
		return nil, err
	}
	// "ancestor" also matches images built on top of this one; only its own containers hold it.
	out := all[:0]
	for _, c := range all {
		if c.Image == imageID {
			out = append(out, c)
		}
	}
	return out, nil
}

func (d *docker) list(ctx context.Context, opts container.ListOptions) ([]Container, error) {
	list, err := query(ctx, d, d.t.Query, "list containers", func(ctx context.Context) ([]container.Summary, error) { return d.c.ContainerList(ctx, opts) })
	if err != nil {
		return nil, err
	}
	out := make([]Container, 0, len(list))
	for _, s := range list {
		c := Container{ID: s.ID, Image: s.ImageID, Labels: s.Labels, State: string(s.State), Running: s.State == container.StateRunning}
		if len(s.Names) > 0 {
			c.Name = strings.TrimPrefix(s.Names[0], "/")
		}
		out = append(out, c)
	}
	return out, nil
}

func (d *docker) ContainerStop(ctx context.Context, id string, timeout time.Duration) error {
	secs := int(timeout.Round(time.Second) / time.Second)
	// The engine answers once the container has stopped: after its stop timeout at the latest.
	return d.do(ctx, timeout+d.t.Change, "stop container", func(ctx context.Context) error {
		return d.c.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs})
	})
}

func (d *docker) ContainerKill(ctx context.Context, id, signal string) error {
	return d.do(ctx, d.t.Query, "kill container", func(ctx context.Context) error { return d.c.ContainerKill(ctx, id, signal) })
}

func (d *docker) ContainerRemove(ctx context.Context, id string) error {
	return d.do(ctx, d.t.Change, "remove container", func(ctx context.Context) error {
		return d.c.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
	})
}

func (d *docker) ContainerRename(ctx context.Context, id, name string) error {
	return d.do(ctx, d.t.Query, "rename container to "+name, func(ctx context.Context) error { return d.c.ContainerRename(ctx, id, name) })
}

func (d *docker) ContainerLogs(ctx context.Context, id string, opts LogOptions, stdout, stderr io.Writer) error {
	parent := ctx
	// Until the engine answers, the call is bounded like a query; then past logs are a stream
	// bounded by silence, and followed logs may be quiet as long as the container is.
	ctx, dl := newDeadline(ctx, d.t.Query)
	defer dl.end()
	info, err := d.c.ContainerInspect(ctx, id)
	if err != nil {
		return d.wrap(ctx, "logs of container "+id, err)
	}
	rc, err := d.c.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: opts.Follow, Since: opts.Since, Tail: opts.Tail, Timestamps: opts.Timestamps})
	if err != nil {
		return d.wrap(ctx, "logs of container "+id, err)
	}
	defer rc.Close()
	if opts.Follow {
		dl.disarm()
	} else {
		dl.stream(d.t.Stall)
		stdout, stderr = kickWriter{stdout, dl}, kickWriter{stderr, dl}
	}
	// Without a TTY the engine multiplexes both streams with 8-byte frame headers; with one, it is
	// one raw stream.
	if info.Config != nil && info.Config.Tty {
		_, err = io.Copy(stdout, rc)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, rc)
	}
	if se := silence(ctx); se != nil {
		return unreachable("logs of container %s: engine %s gave %s", id, d.ep, se)
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs of container %s: %w", id, err)
	}
	return parent.Err()
}

func (d *docker) ContainerExec(ctx context.Context, id string, cmd []string, user string) (ExecResult, error) {
	what := "exec " + strings.Join(cmd, " ")
	// The command's output is a stream: bounded by silence.
	ctx, dl := newDeadline(ctx, d.t.Stall)
	defer dl.end()
	ex, err := d.c.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: cmd, User: user, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return ExecResult{}, d.wrap(ctx, what, err)
	}
	att, err := d.c.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{})
	if err != nil {
		return ExecResult{}, d.wrap(ctx, what, err)
	}
	defer att.Close()
	var out, errOut bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errOut, kickReader{att.Reader, dl}); err != nil {
		return ExecResult{}, fmt.Errorf("%s: %w", what, err)
	}
	r, err := d.c.ContainerExecInspect(ctx, ex.ID)
	if err != nil {
		return ExecResult{}, d.wrap(ctx, what, err)
	}
	return ExecResult{ExitCode: r.ExitCode, Stdout: out.String(), Stderr: errOut.String()}, nil
}

func (d *docker) VolumeCreate(ctx context.Context, name string, labels map[string]string) error {
	return d.do(ctx, d.t.Query, "create volume "+name, func(ctx context.Context) error {
		_, err := d.c.VolumeCreate(ctx, volume.CreateOptions{Name: name, Labels: labels})
		return err
	})
}

func (d *docker) VolumeInspect(ctx context.Context, name string) (Volume, error) {
	v, err := query(ctx, d, d.t.Query, "inspect volume "+name, func(ctx context.Context) (volume.Volume, error) { return d.c.VolumeInspect(ctx, name) })
	if err != nil {
		return Volume{}, err
	}
	return Volume{Name: v.Name, Labels: v.Labels, Mountpoint: v.Mountpoint}, nil
}

func (d *docker) VolumeList(ctx context.Context, labelKey, labelValue string) ([]Volume, error) {
	r, err := query(ctx, d, d.t.Query, "list volumes", func(ctx context.Context) (volume.ListResponse, error) {
		return d.c.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", labelKey+"="+labelValue))})
	})
	if err != nil {
		return nil, err
	}
	out := make([]Volume, 0, len(r.Volumes))
	for _, v := range r.Volumes {
		out = append(out, Volume{Name: v.Name, Labels: v.Labels, Mountpoint: v.Mountpoint})
	}
	return out, nil
}

func (d *docker) VolumeRemove(ctx context.Context, name string) error {
	return d.do(ctx, d.t.Query, "remove volume "+name, func(ctx context.Context) error { return d.c.VolumeRemove(ctx, name, false) })
}

func (d *docker) ContainerReadFile(ctx context.Context, id, path string, limit int64) ([]byte, error) {
	ctx, done := d.call(ctx, d.t.Query)
	defer done()
	rc, _, err := d.c.CopyFromContainer(ctx, id, path)
	if err != nil {
		return nil, d.wrap(ctx, "read "+path, err)
	}
	defer rc.Close()
	// The engine sends a tar archive holding the one file.
	tr := tar.NewReader(rc)
	h, err := tr.Next()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if h.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("read %s: not a regular file", path)
	}
	if h.Size > limit {
		return nil, fmt.Errorf("read %s: %d bytes, more than the %d expected", path, h.Size, limit)
	}
	return io.ReadAll(io.LimitReader(tr, limit))
}

func (d *docker) ContainerAttachExec(ctx context.Context, id string, spec ExecSpec, s ExecStreams) (int, error) {
	what := "exec " + strings.Join(spec.Cmd, " ")
	opts := container.ExecOptions{Cmd: spec.Cmd, User: spec.User, Env: spec.Env, WorkingDir: spec.Dir, Tty: spec.TTY,
		AttachStdin: s.Stdin != nil, AttachStdout: true, AttachStderr: true}
	if s.Resize != nil && spec.TTY {
		// Start at the right size: a first resize sent after the start races the program's first
		// look at its terminal.
		select {
		case sz := <-s.Resize:
			opts.ConsoleSize = &[2]uint{sz.Rows, sz.Cols}
		default:
		}
	}
	// Setting up is bounded like a query; the session itself lasts as long as the user wants.
	ctx, dl := newDeadline(ctx, d.t.Query)
	defer dl.end()
	ex, err := d.c.ContainerExecCreate(ctx, id, opts)
	if err != nil {
		return -1, d.wrap(ctx, what, err)
	}
	att, err := d.c.ContainerExecAttach(ctx, ex.ID, container.ExecAttachOptions{Tty: spec.TTY, ConsoleSize: opts.ConsoleSize})
	if err != nil {
		return -1, d.wrap(ctx, what, err)
	}
	dl.disarm()
	defer att.Close()
	if s.Stdin != nil {
		go func() {
			io.Copy(att.Conn, s.Stdin)
			// End of input reaches the program as EOF (psql reading a script from a pipe).
			att.CloseWrite()
		}()
	}
	stopResize := d.followResize(ctx, ex.ID, spec, s.Resize)
	defer stopResize()
	// A program that cannot start never writes: the runtime's refusal is then the stream's first
	// line, which the caller gets as an ExecStartError rather than as the program's output.
	out := &startSniffer{w: s.Stdout}
	copied := make(chan error, 1)
	go func() {
		var err error
		if spec.TTY {
			_, err = io.Copy(out, att.Reader)
		} else {
			_, err = stdcopy.StdCopy(out, s.Stderr, att.Reader)
		}
		copied <- err
	}()
	select {
	case err := <-copied:
		if err != nil && ctx.Err() == nil {
			return -1, fmt.Errorf("%s: %w", what, err)
		}
	case <-ctx.Done():
		return -1, ctx.Err()
	}
	code, err := d.execExitCode(ctx, ex.ID, what)
	if err == nil && code == 126 && out.refused.Len() > 0 {
		return code, execStartError(spec.Cmd, out.refused.String())
	}
	if out.refused.Len() > 0 {
		s.Stdout.Write(out.refused.Bytes()) // not the runtime's after all
	}
	return code, err
}

// runtimeRefusal opens the line the engine writes when the runtime cannot start an exec'd program.
const runtimeRefusal = "OCI runtime exec failed"

// startSniffer passes output through, except a first write that is the runtime's refusal, which
// it keeps for ContainerAttachExec to report.
type startSniffer struct {
	w       io.Writer
	started bool
	refused bytes.Buffer
}

func (s *startSniffer) Write(p []byte) (int, error) {
	if !s.started {
		s.started = true
		if bytes.HasPrefix(p, []byte(runtimeRefusal)) {
			s.refused.Write(p)
			return len(p), nil
		}
	}
	if s.refused.Len() > 0 {
		return s.refused.Write(p)
	}
	return s.w.Write(p)
}

// execStartError reads the runtime's refusal: `OCI runtime exec failed: exec failed: unable to
// start container process: exec: "nosuchcmd": executable file not found in $PATH: unknown`.
func execStartError(cmd []string, msg string) error {
	msg = strings.TrimSpace(iostreams.FirstLine(msg))
	reason := msg
	if _, after, ok := strings.Cut(msg, `exec: "`); ok {
		if _, r, ok := strings.Cut(after, `": `); ok {
			reason = r
		}
	}
	reason = strings.TrimSuffix(reason, ": unknown")
	name := ""
	if len(cmd) > 0 {
		name = cmd[0]
	}
	notFound := strings.Contains(reason, "not found") || strings.Contains(reason, "no such file")
	return &ExecStartError{Cmd: name, Reason: reason, NotFound: notFound}
}

// followResize passes the caller's terminal sizes on to the exec until the returned stop is called.
func (d *docker) followResize(ctx context.Context, execID string, spec ExecSpec, sizes <-chan TermSize) (stop func()) {
	done := make(chan struct{})
	if sizes == nil || !spec.TTY {
		return func() {}
	}
	go func() {
		for {
			select {
			case sz, ok := <-sizes:
				if !ok {
					return
				}
				rctx, done := d.call(context.WithoutCancel(ctx), d.t.Query)
				d.c.ContainerExecResize(rctx, execID, container.ResizeOptions{Height: sz.Rows, Width: sz.Cols})
				done()
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}

// execExitCode waits for the engine to record the exec's exit code: the output ends a moment
// before it does.
func (d *docker) execExitCode(ctx context.Context, execID, what string) (int, error) {
	ctx, done := d.call(ctx, d.t.Query)
	defer done()
	for {
		r, err := d.c.ContainerExecInspect(ctx, execID)
		if err != nil {
			return -1, d.wrap(ctx, what, err)
		}
		if !r.Running {
			return r.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return -1, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
