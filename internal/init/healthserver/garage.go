package healthserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nixify/nixify/pkg/health"
)

// garageCheck reports two components: the admin API's GET /health (200 healthy or degraded, 503
// without quorum; it needs no token) and an S3 HeadBucket on the configured bucket, signed with SigV4
// for the configured region, path-style. Both run at once so the probe takes the slower of the two.
func garageCheck(t GarageTarget) checker {
	adminURL := "http://" + net.JoinHostPort(t.Host, strconv.Itoa(t.AdminPort)) + "/health"
	s3Addr := net.JoinHostPort(t.Host, strconv.Itoa(t.S3Port))
	bucketURL := "http://" + s3Addr + "/" + url.PathEscape(t.Bucket)
	// One client per checker: its connections are reused between probes and never shared with
	// anything else. Redirects are reported, not followed.
	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return func(ctx context.Context) []observation {
		obs := make([]observation, 2)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			start := time.Now()
			status, out := garageAdminHealth(ctx, client, adminURL)
			obs[0] = observation{Component: "admin", Status: status, Latency: time.Since(start), Output: out}
		}()
		go func() {
			defer wg.Done()
			start := time.Now()
			status, out := garageHeadBucket(ctx, client, bucketURL, s3Addr, t)
			obs[1] = observation{Component: "s3", Status: status, Latency: time.Since(start), Output: out}
		}()
		wg.Wait()
		return obs
	}
}

func garageAdminHealth(ctx context.Context, client *http.Client, adminURL string) (health.Status, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, adminURL, nil)
	if err != nil {
		return health.Fail, fmt.Sprintf("bad admin address %s", adminURL)
	}
	resp, err := client.Do(req)
	if err != nil {
		return health.Fail, describeNetErr(err, req.URL.Host)
	}
	defer resp.Body.Close()
	// Garage answers in plain text; its first line says healthy, degraded or no quorum.
	first, _ := bufio.NewReader(io.LimitReader(resp.Body, 4096)).ReadString('\n')
	first = truncate(first, 160)
	switch {
	case resp.StatusCode == http.StatusOK && strings.Contains(first, "unavailable"):
		return health.Warn, "degraded: " + first
	case resp.StatusCode == http.StatusOK:
		return health.Pass, ""
	case resp.StatusCode == http.StatusServiceUnavailable:
		if first == "" {
			first = "HTTP 503"
		}
		return health.Fail, "no quorum: " + first
	}
	return health.Fail, fmt.Sprintf("admin /health answered HTTP %d, want 200 or 503: is %s Garage's admin port?", resp.StatusCode, req.URL.Host)
}

func garageHeadBucket(ctx context.Context, client *http.Client, bucketURL, addr string, t GarageTarget) (health.Status, string) {
	if t.AccessKey == "" || t.SecretKey == "" {
		return health.Fail, "no S3 key: set GARAGE_ACCESS_KEY and GARAGE_SECRET_KEY"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, bucketURL, nil)
	if err != nil {
		return health.Fail, fmt.Sprintf("bad S3 address %s", addr)
	}
	signV4(req, t.AccessKey, t.SecretKey, t.Region, "s3", time.Now())
	resp, err := client.Do(req)
	if err != nil {
		return health.Fail, describeNetErr(err, addr)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return health.Pass, ""
	case http.StatusNotFound:
		return health.Fail, fmt.Sprintf("no such bucket %q", t.Bucket)
	case http.StatusForbidden:
		return health.Fail, fmt.Sprintf("access denied to bucket %q: check GARAGE_ACCESS_KEY and GARAGE_SECRET_KEY", t.Bucket)
	case http.StatusBadRequest, http.StatusMovedPermanently:
		return health.Fail, fmt.Sprintf("S3 refused the request (HTTP %d): is GARAGE_REGION=%q the server's region?", resp.StatusCode, t.Region)
	}
	return health.Fail, fmt.Sprintf("HeadBucket %q answered HTTP %d", t.Bucket, resp.StatusCode)
}
