// Package registryclient is how nixify talks to a registry, for reading (info, run) and writing
// (push) alike: which credentials, how long one request may stay silent, how rate limits and
// dropped connections are retried, and how a failure is told to the user in one line that names
// the registry and never a secret.
package registryclient

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// DefaultRequestTimeout is how long a request may go without progress (no byte of its body sent,
// no answer) before it is abandoned: a registry that accepts the connection and never answers
// must not hold a push forever.
const DefaultRequestTimeout = 30 * time.Second

// maxRetryAfter caps the Retry-After a rate-limited request waits before its retry.
const maxRetryAfter = time.Minute

type options struct {
	creds          *Credentials
	backoff        remote.Backoff
	requestTimeout time.Duration
	jobs           int
}

// Option changes how a Client talks to the registry.
type Option func(*options)

// WithCredentials uses fixed credentials instead of the keychain (nil: the keychain).
func WithCredentials(c *Credentials) Option { return func(o *options) { o.creds = c } }

// WithBackoff sets the retry schedule (default 1 s doubling, 5 tries).
func WithBackoff(b remote.Backoff) Option { return func(o *options) { o.backoff = b } }

// WithRequestTimeout sets how long a request may make no progress (default DefaultRequestTimeout).
func WithRequestTimeout(d time.Duration) Option { return func(o *options) { o.requestTimeout = d } }

// Client is one repository and everything each call to it shares.
type Client struct {
	Repo   name.Repository
	auth   authn.Authenticator
	source string // where the credentials came from, for error messages
	o      options
	rt     http.RoundTripper
}

// New parses repo once and resolves its credentials.
func New(repo string, opts ...Option) (*Client, error) {
	r, err := name.NewRepository(repo)
	if err != nil {
		return nil, fmt.Errorf("invalid repository %q: %v (accepted: REGISTRY/NAMESPACE/NAME, e.g. ghcr.io/owner/nixify-health-check)", repo, err)
	}
	return ForRepository(r, opts...)
}

// ForRepository is New for a repository already parsed (from an image reference).
func ForRepository(r name.Repository, opts ...Option) (*Client, error) {
	o := options{requestTimeout: DefaultRequestTimeout, jobs: 4,
		backoff: remote.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.1, Steps: 5}}
	for _, f := range opts {
		f(&o)
	}
	auth, source, err := resolveAuthWithin(r.Registry, o.creds, o.requestTimeout)
	if err != nil {
		return nil, err
	}
	// The stall timeout covers a TLS handshake too: the transport's own handshake timeout, shorter,
	// would be retried as a temporary error and add up to minutes.
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSHandshakeTimeout = 0
	rt := &rateLimit{inner: &stallTimeout{inner: base, timeout: o.requestTimeout, host: r.RegistryStr()}, maxWait: maxRetryAfter}
	return &Client{Repo: r, auth: auth, source: source, o: o, rt: rt}, nil
}

// Options are the go-containerregistry options for one call, extra last.
func (c *Client) Options(ctx context.Context, extra ...remote.Option) []remote.Option {
	return append([]remote.Option{remote.WithContext(ctx), remote.WithAuth(c.auth), remote.WithTransport(c.rt),
		remote.WithRetryBackoff(c.o.backoff), remote.WithJobs(c.o.jobs)}, extra...)
}

// WrapTransport puts wrap around the client's transport.
func (c *Client) WrapTransport(wrap func(http.RoundTripper) http.RoundTripper) { c.rt = wrap(c.rt) }
