package health

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client reads a nixify health server.
type Client struct {
	base  *url.URL
	http  *http.Client
	fresh bool
}

// Option changes how a Client asks.
type Option func(*Client)

// WithHTTPClient uses hc instead of a client with a 5 s timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithFresh asks the server for results of a probe started less than interval/5 ago (1 s at the
// default 5 s interval) instead of the latest background results; the server shares one probe per
// service among all such requests and never starts more than one per service per interval/5.
func WithFresh() Option { return func(c *Client) { c.fresh = true } }

// NewClient returns a client for the server at baseURL (for example "http://127.0.0.1:80").
func NewClient(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("health server address %q: want http://host:port", baseURL)
	}
	c := &Client{base: u, http: &http.Client{Timeout: 5 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Health asks GET /health, or GET /health/{service} when service is not empty. It returns the body and
// the HTTP status; a 503 with a health body is not an error, it is the answer.
func (c *Client) Health(ctx context.Context, service string) (*Response, int, error) {
	path := "/health"
	if service != "" {
		path += "/" + url.PathEscape(service)
	}
	var r Response
	code, err := c.get(ctx, path, &r)
	if err != nil {
		return nil, code, err
	}
	return &r, code, nil
}

func (c *Client) get(ctx context.Context, path string, into any) (int, error) {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	if c.fresh {
		u.RawQuery = "fresh=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", u.String(), err)
	}
	req.Header.Set("Accept", MediaType+", application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", u.String(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("GET %s: read body: %w", u.String(), err)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return resp.StatusCode, fmt.Errorf("GET %s: HTTP %d, not a health body: %w", u.String(), resp.StatusCode, err)
	}
	return resp.StatusCode, nil
}
