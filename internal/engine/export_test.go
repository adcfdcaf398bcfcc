package engine

import "time"

// WithTimeouts replaces DefaultTimeouts, for tests that cannot wait for them; a zero field keeps
// its default.
func WithTimeouts(t Timeouts) Option {
	return func(d *docker) {
		for _, f := range []struct{ to, from *time.Duration }{{&d.t.Ping, &t.Ping}, {&d.t.Query, &t.Query}, {&d.t.Change, &t.Change}, {&d.t.Stall, &t.Stall}} {
			if *f.from > 0 {
				*f.to = *f.from
			}
		}
	}
}
