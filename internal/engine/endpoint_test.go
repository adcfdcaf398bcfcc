package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// writeContext lays out a docker CLI context store the way `docker context create` does.
func writeContext(t *testing.T, dir, name, host string) {
	t.Helper()
	sum := sha256.Sum256([]byte(name))
	meta := filepath.Join(dir, "contexts", "meta", hex.EncodeToString(sum[:]))
	if err := os.MkdirAll(meta, 0o755); err != nil {
		t.Fatal(err)
	}
	body := `{"Name":"` + name + `","Metadata":{},"Endpoints":{"docker":{"Host":"` + host + `","SkipTLSVerify":false}}}`
	if err := os.WriteFile(filepath.Join(meta, "meta.json"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestResolveEndpointOrder(t *testing.T) {
	dir := t.TempDir()
	writeContext(t, dir, "remote", "tcp://10.1.2.3:2375")
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"currentContext":"remote"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"DOCKER_CONFIG": dir}

	ep, err := ResolveEndpoint("", envOf(base))
	if err != nil || ep.Host != "tcp://10.1.2.3:2375" || ep.Source != "context remote" {
		t.Fatalf("current context: %+v %v", ep, err)
	}
	base["DOCKER_HOST"] = "unix:///tmp/x.sock"
	ep, _ = ResolveEndpoint("", envOf(base))
	if ep.Host != "unix:///tmp/x.sock" || ep.Source != "DOCKER_HOST" {
		t.Fatalf("DOCKER_HOST should win over the context: %+v", ep)
	}
	ep, _ = ResolveEndpoint("unix:///cfg.sock", envOf(base))
	if ep.Host != "unix:///cfg.sock" || ep.Source != "config" {
		t.Fatalf("config should win: %+v", ep)
	}
	delete(base, "DOCKER_HOST")
	base["DOCKER_CONTEXT"] = "default"
	ep, _ = ResolveEndpoint("", envOf(base))
	if ep.Host != DefaultHost || ep.Source != "default" {
		t.Fatalf("DOCKER_CONTEXT=default: %+v", ep)
	}
}

func TestResolveEndpointBadContext(t *testing.T) {
	dir := t.TempDir()
	_, err := ResolveEndpoint("", envOf(map[string]string{"DOCKER_CONFIG": dir, "DOCKER_CONTEXT": "gone"}))
	if err == nil || !strings.Contains(err.Error(), `docker context "gone" not found`) {
		t.Fatalf("err = %v", err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{not json`), 0o644)
	_, err = ResolveEndpoint("", envOf(map[string]string{"DOCKER_CONFIG": dir}))
	if err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Fatalf("err = %v", err)
	}
}

func TestNoConfigMeansDefaultSocket(t *testing.T) {
	ep, err := ResolveEndpoint("", envOf(map[string]string{"DOCKER_CONFIG": t.TempDir()}))
	if err != nil || ep.Host != DefaultHost {
		t.Fatalf("%+v %v", ep, err)
	}
}
