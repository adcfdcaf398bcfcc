package engine

import (
	"context"
	"fmt"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/client"
)

// docker implements Engine with the Docker SDK (github.com/docker/docker/client). It is the only
// place that imports the SDK.
type docker struct {
	c  *client.Client
	ep Endpoint
}

// New connects to the engine at ep, negotiating the API version on first use.
func New(ep Endpoint) (Engine, error) {
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
	return &docker{c: c, ep: ep}, nil
}

func (d *docker) Endpoint() Endpoint { return d.ep }
func (d *docker) Close() error       { return d.c.Close() }

func (d *docker) Ping(ctx context.Context) (string, error) {
	p, err := d.c.Ping(ctx)
	if err != nil {
		return "", fmt.Errorf("engine %s does not answer: %s", d.ep, firstLine(err.Error()))
	}
	d.c.NegotiateAPIVersionPing(p)
	return d.c.ClientVersion(), nil
}

func (d *docker) Version(ctx context.Context) (Version, error) {
	v, err := d.c.ServerVersion(ctx)
	if err != nil {
		return Version{}, fmt.Errorf("engine %s: version: %s", d.ep, firstLine(err.Error()))
	}
	return Version{Version: v.Version, APIVersion: v.APIVersion, MinAPIVersion: v.MinAPIVersion, OS: v.Os, Arch: v.Arch}, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (d *docker) ImageInspect(ctx context.Context, ref string) (Image, error) {
	r, err := d.c.ImageInspect(ctx, ref)
	if err != nil {
		return Image{}, d.wrap("inspect image "+ref, err)
	}
	img := Image{ID: r.ID, RepoTags: r.RepoTags, Architecture: r.Architecture, OS: r.Os, Size: r.Size, Created: r.Created}
	if r.Config != nil {
		img.Labels = r.Config.Labels
	}
	return img, nil
}

func (d *docker) ImageSave(ctx context.Context, refs ...string) (io.ReadCloser, error) {
	rc, err := d.c.ImageSave(ctx, refs)
	if err != nil {
		return nil, d.wrap("save image "+strings.Join(refs, " "), err)
	}
	return rc, nil
}

// wrap gives engine errors one line of context and maps "no such ..." to ErrNotFound.
func (d *docker) wrap(what string, err error) error {
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: %s", what, firstLine(err.Error()))
}
