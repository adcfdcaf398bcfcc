package registryclient

import (
	"fmt"
	"os"
	"time"

	"github.com/docker/cli/cli/config"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/authn/github"
	"github.com/google/go-containerregistry/pkg/name"
)

// Credentials says how to log in: fixed ones (--username and --password-stdin) or the keychain.
type Credentials struct {
	Username string
	Password string // never printed
}

// resolveAuthWithin is resolveAuth given at most d: the docker config may name a credential helper,
// a program that can hang, and go-containerregistry runs it without a deadline. A helper still
// running after d is left to finish on its own; the answer is unreachable (exit 4).
func resolveAuthWithin(reg name.Registry, c *Credentials, d time.Duration) (authn.Authenticator, string, error) {
	type answer struct {
		a      authn.Authenticator
		source string
		err    error
	}
	ch := make(chan answer, 1)
	go func() {
		a, source, err := resolveAuth(reg, c)
		ch <- answer{a, source, err}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.a, r.source, r.err
	case <-t.C:
		helper := "the docker config's credential helper"
		if name := credHelper(reg.RegistryStr()); name != "" {
			helper = "the credential helper docker-credential-" + name
		}
		return nil, "docker config", &Error{Kind: ErrUnreachable, msg: fmt.Sprintf("read credentials for %s: %s did not answer within %s", reg.RegistryStr(), helper, d)}
	}
}

// credHelper is the credential helper the docker config names for host, for the message.
func credHelper(host string) string {
	cf, err := config.Load(os.Getenv("DOCKER_CONFIG"))
	if err != nil {
		return ""
	}
	if h := cf.CredentialHelpers[host]; h != "" {
		return h
	}
	return cf.CredentialsStore
}

// resolveAuth picks the credentials for a registry in nixify's order (GITHUB_TOKEN for ghcr.io, then
// docker config and credential helpers) and names the source, for error messages.
func resolveAuth(reg name.Registry, c *Credentials) (authn.Authenticator, string, error) {
	if c != nil && c.Username != "" {
		return authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: c.Password}), "--username and --password-stdin", nil
	}
	if a, err := github.Keychain.Resolve(reg); err == nil && a != authn.Anonymous {
		return a, "GITHUB_TOKEN", nil
	}
	a, err := authn.DefaultKeychain.Resolve(reg)
	if err != nil {
		return nil, "docker config", fmt.Errorf("read credentials for %s from the docker config or its credential helper: %w", reg.RegistryStr(), err)
	}
	if a == authn.Anonymous {
		return a, "none found (GITHUB_TOKEN is for ghcr.io only; docker config has no entry)", nil
	}
	return a, "docker config / credential helper", nil
}
