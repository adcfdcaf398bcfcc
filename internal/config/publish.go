package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Publish is one service published on the host: its name (postgres, redis, s3) and the host port,
// zero meaning the service's own port inside the container.
type Publish struct {
	Service  string `json:"service"`
	HostPort int    `json:"hostPort,omitempty"`
}

// String is the item as the user writes it: "postgres" or "postgres=15432".
func (p Publish) String() string {
	if p.HostPort == 0 {
		return p.Service
	}
	return p.Service + "=" + strconv.Itoa(p.HostPort)
}

// PublishError is one `--publish` item that cannot be used.
type PublishError struct{ Item, Accepted string }

func (e *PublishError) Error() string { return fmt.Sprintf("%q: %s", e.Item, e.Accepted) }

// Publishable lists the services `--publish` accepts, in the order they are shown.
var Publishable = []string{"postgres", "redis", "s3"}

// ParsePublish reads `--publish` items (each one or a comma-separated list): postgres, redis, s3
// (alias garage), all, each optionally NAME=HOSTPORT. A service named twice keeps the last port.
func ParsePublish(items []string) ([]Publish, error) {
	var out []Publish
	add := func(p Publish) {
		if i := slices.IndexFunc(out, func(q Publish) bool { return q.Service == p.Service }); i >= 0 {
			if p.HostPort != 0 {
				out[i] = p
			}
			return
		}
		out = append(out, p)
	}
	for _, item := range items {
		for _, part := range strings.Split(item, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			name, portText, hasPort := strings.Cut(part, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "garage" {
				name = "s3"
			}
			if name == "all" && !hasPort {
				for _, s := range Publishable {
					add(Publish{Service: s})
				}
				continue
			}
			if !slices.Contains(Publishable, name) {
				return nil, &PublishError{Item: part, Accepted: "accepted: postgres, redis, s3, all, each optionally NAME=HOSTPORT (e.g. postgres=15432)"}
			}
			p := Publish{Service: name}
			if hasPort {
				n, err := strconv.Atoi(strings.TrimSpace(portText))
				if err != nil || n < 1 || n > 65535 {
					return nil, &PublishError{Item: part, Accepted: "the host port must be a number from 1 to 65535"}
				}
				p.HostPort = n
			}
			add(p)
		}
	}
	// Shown and published in one order, whatever order they were asked in.
	slices.SortStableFunc(out, func(a, b Publish) int {
		return slices.Index(Publishable, a.Service) - slices.Index(Publishable, b.Service)
	})
	return out, nil
}
