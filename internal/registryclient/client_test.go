package registryclient_test

import (
	"context"
	"errors"
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
