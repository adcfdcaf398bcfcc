// Package garage talks to Garage's admin HTTP API (version 2) and performs the first-boot
// bootstrap of a single-node cluster: layout, access key, bucket, permission. Every step reads
// before it writes, so a second boot changes nothing.
package garage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Client calls the admin API with the admin token.
type Client struct {
	base  string // http://host:port
	token string
	http  *http.Client
}

// NewClient returns a client for the admin API at base (for example http://127.0.0.1:3903).
func NewClient(base, token string) *Client {
	return &Client{base: base, token: token, http: &http.Client{Timeout: 10 * time.Second}}
}

// APIError is a non-2xx answer of the admin API.
type APIError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *APIError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("garage admin API: %d %s: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("garage admin API: status %d", e.Status)
}

// statusOf returns the HTTP status of an APIError, 0 otherwise.
func statusOf(err error) int {
	var e *APIError
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Health asks the unauthenticated /health endpoint; any HTTP answer means the admin API is up
// (a fresh node answers 503 until its layout is applied).
func (c *Client) Health(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// call sends one request; in is JSON-encoded when not nil, out decoded when not nil.
func (c *Client) call(ctx context.Context, method, endpoint string, query url.Values, in, out any) error {
	u := c.base + "/v2/" + endpoint
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		apiErr := &APIError{Status: resp.StatusCode}
		json.Unmarshal(data, apiErr)
		return fmt.Errorf("%s: %w", endpoint, apiErr)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s: decode answer: %w", endpoint, err)
		}
	}
	return nil
}

// The types below hold only the fields the bootstrap uses; names follow the API description.

// Node is one entry of GetClusterStatus.
type Node struct {
	ID   string `json:"id"`
	IsUp bool   `json:"isUp"`
}

// ClusterStatus is the answer of GetClusterStatus.
type ClusterStatus struct {
	LayoutVersion int    `json:"layoutVersion"`
	Nodes         []Node `json:"nodes"`
}

// Role is a node's role in a layout (LayoutNodeRole / NodeRoleChange).
type Role struct {
	ID       string   `json:"id"`
	Zone     string   `json:"zone"`
	Capacity *int64   `json:"capacity"`
	Tags     []string `json:"tags"`
}

// Layout is the answer of GetClusterLayout.
type Layout struct {
	Version           int    `json:"version"`
	Roles             []Role `json:"roles"`
	StagedRoleChanges []Role `json:"stagedRoleChanges"`
}

// Perms is a key's permissions on a bucket (ApiBucketKeyPerm).
type Perms struct {
	Read  bool `json:"read"`
	Write bool `json:"write"`
	Owner bool `json:"owner"`
}

// BucketKey is one key allowed on a bucket (GetBucketInfoKey).
type BucketKey struct {
	AccessKeyID string `json:"accessKeyId"`
	Permissions Perms  `json:"permissions"`
}

// Bucket is the answer of GetBucketInfo and CreateBucket.
type Bucket struct {
	ID            string      `json:"id"`
	GlobalAliases []string    `json:"globalAliases"`
	Keys          []BucketKey `json:"keys"`
}

func (c *Client) ClusterStatus(ctx context.Context) (ClusterStatus, error) {
	var s ClusterStatus
	return s, c.call(ctx, http.MethodGet, "GetClusterStatus", nil, nil, &s)
}

func (c *Client) Layout(ctx context.Context) (Layout, error) {
	var l Layout
	return l, c.call(ctx, http.MethodGet, "GetClusterLayout", nil, nil, &l)
}

func (c *Client) StageRoles(ctx context.Context, roles []Role) error {
	return c.call(ctx, http.MethodPost, "UpdateClusterLayout", nil, map[string]any{"roles": roles}, nil)
}

func (c *Client) ApplyLayout(ctx context.Context, version int) error {
	return c.call(ctx, http.MethodPost, "ApplyClusterLayout", nil, map[string]any{"version": version}, nil)
}

func (c *Client) ImportKey(ctx context.Context, name, id, secret string) error {
	return c.call(ctx, http.MethodPost, "ImportKey", nil,
		map[string]any{"name": name, "accessKeyId": id, "secretAccessKey": secret}, nil)
}

func (c *Client) BucketByAlias(ctx context.Context, alias string) (Bucket, error) {
	var b Bucket
	return b, c.call(ctx, http.MethodGet, "GetBucketInfo", url.Values{"globalAlias": {alias}}, nil, &b)
}

func (c *Client) CreateBucket(ctx context.Context, alias string) (Bucket, error) {
	var b Bucket
	return b, c.call(ctx, http.MethodPost, "CreateBucket", nil, map[string]any{"globalAlias": alias}, &b)
}

func (c *Client) AllowKey(ctx context.Context, bucketID, keyID string, p Perms) error {
	return c.call(ctx, http.MethodPost, "AllowBucketKey", nil,
		map[string]any{"bucketId": bucketID, "accessKeyId": keyID, "permissions": p}, nil)
}
