package engine

import (
	"context"
	"fmt"
	"strings"

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
