package registryclient_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/nixify/nixify/internal/registryclient"
	"github.com/nixify/nixify/internal/testpeer"
)

// TestSilentRegistryFailsFast: a registry that accepts connections and never answers (TLS or
// plain HTTP) is reported as unreachable after one request timeout, not after retries.
func TestSilentRegistryFailsFast(t *testing.T) {
	addr := testpeer.Silent(t)
	const timeout = time.Second
	c, err := registryclient.New(addr+"/o/n", registryclient.WithRequestTimeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = remote.Get(c.Repo.Tag("latest"), c.Options(context.Background())...)
	took := time.Since(start)
	err = c.Explain("read", err)
	if !errors.Is(err, registryclient.ErrUnreachable) {
		t.Errorf("err = %v, want unreachable", err)
	}
	if took > 3*timeout {
		t.Errorf("took %s with a %s request timeout", took, timeout)
	}
}

// TestTLSHandshakeTimeoutIsNotRetried: the transport's own TLS handshake timeout (shorter than
// the request timeout) is the same silence, told at once rather than retried for a minute.
func TestTLSHandshakeTimeoutIsNotRetried(t *testing.T) {
	addr := testpeer.Silent(t)
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.TLSHandshakeTimeout = 300 * time.Millisecond
	c, err := registryclient.New(addr+"/o/n", registryclient.WithRequestTimeout(2*time.Second), registryclient.WithTransport(base))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = remote.Get(c.Repo.Tag("latest"), c.Options(context.Background())...)
	if err = c.Explain("read", err); !errors.Is(err, registryclient.ErrUnreachable) {
		t.Errorf("err = %v, want unreachable", err)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("took %s: the handshake timeouts were retried", took)
	}
}
