package shared

import (
	"fmt"
	"net"
	"net/url"
	"strconv"

	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
)

// Connection is how this machine reaches one published service. It never holds a secret: the URL
// names the user, not the password (`nixify env` adds those on request).
type Connection struct {
	Service  string `json:"service"` // postgres, redis, s3
	URL      string `json:"url"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	User     string `json:"user,omitempty"`     // postgres
	Database string `json:"database,omitempty"` // postgres
	Region   string `json:"region,omitempty"`   // s3
	Bucket   string `json:"bucket,omitempty"`   // s3
	// Running is false when the container publishes the port but does not run the service.
	Running bool `json:"running"`
}

// Connections lists how to reach each service the container publishes.
func Connections(c engine.Container, ep engine.Endpoint) []Connection {
	in := container.InsideOf(c)
	out := []Connection{}
	for _, p := range container.PublishedServices(c) {
		host := container.HostFor(p.HostIP, ep)
		hp := net.JoinHostPort(host, strconv.Itoa(p.HostPort))
		cn := Connection{Service: p.Service, Host: host, Port: p.HostPort, Running: p.Running}
		switch p.Service {
		case "postgres":
			cn.User, cn.Database = in.PGUser, in.PGDB
			cn.URL = (&url.URL{Scheme: "postgres", User: url.User(in.PGUser), Host: hp, Path: "/" + in.PGDB}).String()
		case "redis":
			cn.URL = "redis://" + hp
		case "s3":
			cn.Region, cn.Bucket = in.Region, in.Bucket
			cn.URL = "http://" + hp
		}
		out = append(out, cn)
	}
	return out
}

// PrintConnections writes one line per published service and, when any is published, how to get
// the credentials.
func PrintConnections(io *iostreams.IOStreams, conns []Connection) {
	if len(conns) == 0 {
		return
	}
	st := io.Styles()
	io.Printf("connect:\n")
	for _, c := range conns {
		line := fmt.Sprintf("  %-9s %s", c.Service, st.Accent.Render(c.URL))
		if c.Service == "s3" {
			line += fmt.Sprintf(" (region %s, bucket %s)", c.Region, c.Bucket)
		}
		if !c.Running {
			line += st.Warn.Render(" (not running)") // published, but NIXIFY_SERVICES leaves it out
		}
		io.Printf("%s\n", line)
	}
	io.Printf("%s\n", st.Faint.Render("  with passwords: eval \"$(nixify env)\"; logged in: nixify psql, nixify redis-cli"))
}
