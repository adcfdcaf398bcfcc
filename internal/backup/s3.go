package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Location is s3://BUCKET/KEY.
type S3Location struct{ Bucket, Key string }

func (l S3Location) String() string { return "s3://" + l.Bucket + "/" + l.Key }

// ParseS3 reads s3://BUCKET/KEY; ok is false when s is not an s3:// URL at all.
func ParseS3(s string) (loc S3Location, ok bool, err error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return S3Location{}, false, nil
	}
	bucket, key, _ := strings.Cut(rest, "/")
	if bucket == "" || key == "" || strings.HasSuffix(key, "/") {
		return S3Location{}, true, fmt.Errorf("invalid %q: accepted: s3://BUCKET/KEY", s)
	}
	return S3Location{Bucket: bucket, Key: key}, true, nil
}

// S3 is a client of one S3 endpoint.
type S3 struct {
	c     *s3.Client
	stall time.Duration
}

// NewS3 reads the credentials and region the usual AWS way (environment, shared config and
// profile); endpoint ("" for AWS itself, or the configured AWS_ENDPOINT_URL_S3) is addressed
// path-style. Silence longer than stall on any request ends it.
func NewS3(ctx context.Context, endpoint string, stall time.Duration) (*S3, error) {
	if endpoint != "" {
		if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("invalid --s3-endpoint %q: accepted: http(s)://HOST[:PORT]", endpoint)
		}
	}
	hc := awshttp.NewBuildableClient().WithDialerOptions(func(d *net.Dialer) { d.Timeout = 10 * time.Second }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.TLSHandshakeTimeout = 10 * time.Second
			tr.ResponseHeaderTimeout = stall
		})
	cfg, err := config.LoadDefaultConfig(ctx, config.WithHTTPClient(hc))
	if err != nil {
		return nil, fmt.Errorf("S3 configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
	})
	return &S3{c: c, stall: stall}, nil
}

// Upload streams r to loc, in parts of 8 MiB (multipart above that), memory bounded by the parts
// in flight. A reader or an endpoint silent for the stall bound ends it.
func (s *S3) Upload(ctx context.Context, loc S3Location, r io.Reader) error {
	ctx, w := watch(ctx, s.stall)
	defer w.stop()
	// Checksums only where required: S3 servers other than AWS (versitygw, Garage) differ on the
	// newer full-object checksums of multipart uploads; the archive carries its own SHA-256s.
	tm := transfermanager.New(s.c, func(o *transfermanager.Options) {
		o.Concurrency = 2
		o.FailTimeout = 30 * time.Second
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	_, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(loc.Key), Body: w.reader(r)})
	return w.err(loc, err)
}

// Download copies loc to w.
func (s *S3) Download(ctx context.Context, loc S3Location, dst io.Writer) error {
	ctx, w := watch(ctx, s.stall)
	defer w.stop()
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(loc.Key)})
	if err != nil {
		return w.err(loc, err)
	}
	defer out.Body.Close()
	_, err = io.Copy(dst, w.reader(out.Body))
	return w.err(loc, err)
}

// ErrStalled is an endpoint (or a source) that stopped moving.
var ErrStalled = errors.New("no progress")

// watchdog cancels its context when no byte has moved for the stall bound.
type watchdog struct {
	mu      sync.Mutex
	last    time.Time
	limit   time.Duration
	cancel  context.CancelCauseFunc
	done    chan struct{}
	stalled bool
}

func watch(parent context.Context, limit time.Duration) (context.Context, *watchdog) {
	ctx, cancel := context.WithCancelCause(parent)
	w := &watchdog{last: time.Now(), limit: limit, cancel: cancel, done: make(chan struct{})}
	go func() {
		t := time.NewTicker(limit / 10)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.C:
				w.mu.Lock()
				if time.Since(w.last) > w.limit {
					w.stalled = true
					w.mu.Unlock()
					cancel(ErrStalled)
					return
				}
				w.mu.Unlock()
			}
		}
	}()
	return ctx, w
}

func (w *watchdog) stop() { close(w.done); w.cancel(nil) }

func (w *watchdog) kick() { w.mu.Lock(); w.last = time.Now(); w.mu.Unlock() }

func (w *watchdog) isStalled() bool { w.mu.Lock(); defer w.mu.Unlock(); return w.stalled }

func (w *watchdog) reader(r io.Reader) io.Reader { return kickingReader{r, w} }

func (w *watchdog) err(loc S3Location, err error) error {
	if err == nil {
		return nil
	}
	w.mu.Lock()
	stalled := w.stalled
	w.mu.Unlock()
	if stalled {
		return fmt.Errorf("%s: %w for %s", loc, ErrStalled, w.limit)
	}
	return fmt.Errorf("%s: %w", loc, err)
}

type kickingReader struct {
	r io.Reader
	w *watchdog
}

func (k kickingReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if n > 0 {
		k.w.kick()
	}
	return n, err
}
