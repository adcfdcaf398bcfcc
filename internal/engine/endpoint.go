// Package engine is nixify's one door to the Docker Engine API. Everything nixify asks of the engine
// goes through the Engine interface; docker.go is the only file that imports the Docker SDK, so
// moving to its successor module touches one file. Every call has a deadline (deadline.go): an
// engine that accepts and never answers is ErrUnavailable after seconds, not a hang.
package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultHost is where the engine listens when nothing else is said.
const DefaultHost = "unix:///var/run/docker.sock"

// Endpoint is the engine address and where it was found, so that errors and `doctor` can say why
// nixify dials that address.
type Endpoint struct {
	Host   string `json:"host"`
	Source string `json:"source"` // "config", "DOCKER_HOST", "context NAME", "default"
	// TLS material from the context or DOCKER_CERT_PATH; empty for plain unix sockets.
	CertPath  string `json:"certPath,omitempty"`
	TLSVerify bool   `json:"tlsVerify,omitempty"`
}

// ResolveEndpoint decides which engine to talk to: nixify's own docker_host setting, then
// DOCKER_HOST, then DOCKER_CONTEXT or the docker CLI's current context, then the default socket.
// The Docker SDK's FromEnv alone would ignore contexts.
func ResolveEndpoint(configured string, getenv func(string) string) (Endpoint, error) {
	if configured != "" {
		return Endpoint{Host: configured, Source: "config", CertPath: getenv("DOCKER_CERT_PATH"), TLSVerify: getenv("DOCKER_TLS_VERIFY") != ""}, nil
	}
	if h := getenv("DOCKER_HOST"); h != "" {
		return Endpoint{Host: h, Source: "DOCKER_HOST", CertPath: getenv("DOCKER_CERT_PATH"), TLSVerify: getenv("DOCKER_TLS_VERIFY") != ""}, nil
	}
	dir := dockerConfigDir(getenv)
	name := getenv("DOCKER_CONTEXT")
	if name == "" {
		var err error
		if name, err = currentContext(dir); err != nil {
			return Endpoint{}, err
		}
	}
	if name == "" || name == "default" {
		return Endpoint{Host: DefaultHost, Source: "default"}, nil
	}
	return contextEndpoint(dir, name)
}

func dockerConfigDir(getenv func(string) string) string {
	if d := getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	return filepath.Join(getenv("HOME"), ".docker")
}

func currentContext(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read docker config: %w", err)
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return "", fmt.Errorf("docker config %s is not valid JSON: %v", filepath.Join(dir, "config.json"), err)
	}
	return cfg.CurrentContext, nil
}

// contextEndpoint reads the docker CLI's context store: contexts/meta/<sha256(name)>/meta.json.
func contextEndpoint(dir, name string) (Endpoint, error) {
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	metaPath := filepath.Join(dir, "contexts", "meta", id, "meta.json")
	data, err := os.ReadFile(metaPath)
	if err != nil {
		return Endpoint{}, fmt.Errorf("docker context %q not found (%s): run `docker context ls`, or `docker context use default`", name, metaPath)
	}
	var meta struct {
		Endpoints map[string]struct {
			Host          string `json:"Host"`
			SkipTLSVerify bool   `json:"SkipTLSVerify"`
		} `json:"Endpoints"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return Endpoint{}, fmt.Errorf("docker context %q: %s is not valid JSON: %v", name, metaPath, err)
	}
	d, ok := meta.Endpoints["docker"]
	if !ok || d.Host == "" {
		return Endpoint{}, fmt.Errorf("docker context %q has no docker endpoint", name)
	}
	ep := Endpoint{Host: d.Host, Source: "context " + name}
	tlsDir := filepath.Join(dir, "contexts", "tls", id, "docker")
	if _, err := os.Stat(filepath.Join(tlsDir, "ca.pem")); err == nil {
		ep.CertPath, ep.TLSVerify = tlsDir, !d.SkipTLSVerify
	}
	return ep, nil
}

// String is the endpoint for messages: "unix:///var/run/docker.sock (from DOCKER_HOST)".
func (e Endpoint) String() string {
	return fmt.Sprintf("%s (from %s)", e.Host, strings.TrimSpace(e.Source))
}
