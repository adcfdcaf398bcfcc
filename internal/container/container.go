// Package container is the life of nixify's container on the Docker engine: load the image, create
// the container with nixify's labels, port, volume and environment, start it and wait until its
// health server says ready, read its logs by service, stop it, and clean up what nixify made.
package container

import (
	"context"
	"net"
	"strconv"
	"strings"

	"github.com/nixify/nixify/internal/engine"
)

// Labels that mark what nixify created, so that stop and clean never touch anything else.
const (
	LabelManaged      = "io.nixify.managed"       // "true" on nixify's containers and volumes
	LabelConfigDigest = "io.nixify.config-digest" // the image's config digest (= engine image ID)
	LabelArch         = "io.nixify.arch"          // x86_64 or aarch64
	LabelVolume       = "io.nixify.volume"        // the data volume the container mounts
	LabelVersion      = "io.nixify.version"       // the nixify that created it
)

// Inside the image: the init's health server listens on APP_PORT 80 and the services keep their
// data under /data.
const (
	HealthPort = 80
	DataDir    = "/data"
)

// Managed reports whether the engine object carries nixify's mark.
func Managed(labels map[string]string) bool { return labels[LabelManaged] == "true" }

// HealthURL is the address of the published health server as seen from this machine. A port
// published on every address (0.0.0.0) is reached on loopback, or on the engine's host when the
// engine is remote.
func HealthURL(bind string, port int, ep engine.Endpoint) string {
	return "http://" + net.JoinHostPort(HostFor(bind, ep), strconv.Itoa(port))
}

// HostFor is the host name this machine reaches a port published on bind with: bind itself, or,
// for every address (0.0.0.0), loopback or the remote engine's host.
func HostFor(bind string, ep engine.Endpoint) string {
	if ip := net.ParseIP(bind); ip != nil && !ip.IsUnspecified() {
		return bind
	}
	if h, ok := strings.CutPrefix(ep.Host, "tcp://"); ok {
		if name, _, err := net.SplitHostPort(h); err == nil {
			return name
		}
	}
	return "127.0.0.1"
}

// Connect opens the engine and checks it answers, so that an absent or hung engine is one line
// (wrapping engine.ErrUnavailable, which the CLI maps to exit 4 and a pointer to `nixify doctor`)
// rather than the failure of whatever was asked first.
func Connect(ctx context.Context, open func() (engine.Engine, error)) (engine.Engine, error) {
	eng, err := open()
	if err != nil {
		return nil, err
	}
	if _, err := eng.Ping(ctx); err != nil {
		eng.Close()
		return nil, err
	}
	return eng, nil
}
