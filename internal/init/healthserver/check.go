package healthserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/nixify/nixify/internal/init/redact"
	"github.com/nixify/nixify/pkg/health"
)

// observation is one measured component of a service: Garage has two (its admin health and an S3
// HeadBucket), the others one.
type observation struct {
	Component string // "" for a service measured once; "admin" or "s3" for Garage
	Status    health.Status
	Latency   time.Duration
	Output    string // one line saying why it did not pass; empty on pass
}

// checker measures one service once; it must return by the time ctx ends.
type checker func(ctx context.Context) []observation

// Result is the outcome of one probe of one service.
type Result struct {
	Service      string
	Status       health.Status // worst of the observations
	Started      time.Time
	Finished     time.Time
	Observations []observation
}

func newResult(service string, started time.Time, obs []observation) *Result {
	r := &Result{Service: service, Status: health.Pass, Started: started, Finished: time.Now(), Observations: obs}
	for _, o := range obs {
		r.Status = r.Status.Worse(o.Status)
	}
	return r
}

// Latency is the slowest component's response time.
func (r *Result) Latency() time.Duration {
	var d time.Duration
	for _, o := range r.Observations {
		d = max(d, o.Latency)
	}
	return d
}

// Output joins the components' outputs into one line.
func (r *Result) Output() string {
	var parts []string
	for _, o := range r.Observations {
		if o.Output == "" {
			continue
		}
		if o.Component != "" && len(r.Observations) > 1 {
			parts = append(parts, o.Component+": "+o.Output)
		} else {
			parts = append(parts, o.Output)
		}
	}
	return strings.Join(parts, "; ")
}

// checkerFor returns the check of one service with its secrets wiped from every output, a second
// line of defence behind messages that are written never to include them.
func checkerFor(service string, cfg Config) checker {
	var c checker
	var secrets []string
	switch service {
	case Redis:
		c = redisCheck(cfg.Redis)
		secrets = []string{cfg.Redis.Password}
	case Postgres:
		c = postgresCheck(cfg.Postgres, cfg.Timeout)
		secrets = []string{cfg.Postgres.Password}
	case Garage:
		c = garageCheck(cfg.Garage)
		secrets = []string{cfg.Garage.SecretKey, cfg.Garage.AdminToken}
	default:
		return func(context.Context) []observation {
			return []observation{{Status: health.Fail, Output: "unknown service " + service}}
		}
	}
	return func(ctx context.Context) []observation {
		obs := c(ctx)
		for i := range obs {
			obs[i].Output = redact.String(obs[i].Output, secrets...)
		}
		return obs
	}
}

// describeNetErr turns a dial or I/O error into one line: refused, timeout, unknown host, closed.
func describeNetErr(err error, addr string) string {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return fmt.Sprintf("timeout: no answer from %s within the check timeout", addr)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("connection refused at %s", addr)
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("cannot resolve host %q", dnsErr.Name)
	case errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("connection closed by %s", addr)
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return fmt.Sprintf("host unreachable: %s", addr)
	case errors.Is(err, context.Canceled):
		return "check cancelled: server shutting down"
	}
	return fmt.Sprintf("cannot reach %s: %v", addr, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
