package engine

import (
	"context"
	"io"

	"github.com/docker/docker/api/types/container"
)

// Copier streams files out of and into a container (running or not) through the engine's archive
// API, as `docker cp` does; a stopped container's volumes are reached as well. The engine behind
// New implements it; callers type-assert (backup and restore are its users).
type Copier interface {
	// CopyFrom streams path (a file or a directory; "DIR/." for a directory's contents) out of the
	// container as a tar archive. Reads count as progress; silence past the stall bound ends it.
	CopyFrom(ctx context.Context, id, path string) (io.ReadCloser, error)
	// CopyTo unpacks the tar archive into dir in the container; the archive's owners and modes
	// are kept. The stream may run as long as it moves.
	CopyTo(ctx context.Context, id, dir string, archive io.Reader) error
}

var _ Copier = (*docker)(nil)

func (d *docker) CopyFrom(ctx context.Context, id, path string) (io.ReadCloser, error) {
	what := "copy " + path + " from container " + id
	ctx, dl := newDeadline(ctx, d.t.Stall)
	rc, _, err := d.c.CopyFromContainer(ctx, id, path)
	if err != nil {
		err = d.wrap(ctx, what, err)
		dl.end()
		return nil, err
	}
	return boundedBody{kickReader: kickReader{rc, dl}, c: rc, dl: dl, ctx: ctx, what: what}, nil
}

func (d *docker) CopyTo(ctx context.Context, id, dir string, archive io.Reader) error {
	what := "copy into " + dir + " of container " + id
	ctx, dl := newDeadline(ctx, d.t.Stall)
	defer dl.end()
	err := d.c.CopyToContainer(ctx, id, dir, kickReader{archive, dl}, container.CopyToContainerOptions{})
	if err != nil {
		return d.wrap(ctx, what, err)
	}
	return nil
}
