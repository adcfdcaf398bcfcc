package registryclient

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/authn/github"
	"github.com/google/go-containerregistry/pkg/name"
)

// Credentials says how to log in: fixed ones (--username and --password-stdin) or the keychain.
type Credentials struct {
	Username string
	Password string // never printed
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
