package testpeer

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Registry is Debian's docker-registry (distribution 2.8) started for one test.
type Registry struct {
	*Process
	Username, Password string // empty without auth
}

// StartRegistry starts docker-registry on a random loopback port with its storage in a temporary
// directory; with a user name it requires basic auth from a bcrypt htpasswd file (made with
// htpasswd -B). Loopback registries are plain HTTP, which registry clients accept for 127.0.0.1.
func StartRegistry(t testing.TB, username, password string) *Registry {
	t.Helper()
	bin := Binary(t, "docker-registry")
	dir := t.TempDir()
	auth := ""
	if username != "" {
		htpasswd := Binary(t, "htpasswd")
		out, err := exec.Command(htpasswd, "-Bbn", username, password).Output()
		if err != nil {
			t.Fatalf("htpasswd: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "htpasswd"), out, 0o600); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: nixify-test\n    path: %s\n", filepath.Join(dir, "htpasswd"))
	}
	for attempt := 0; ; attempt++ {
		port := FreePort(t)
		cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%d\n%s",
			filepath.Join(dir, "data"), port, auth)
		cfgPath := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		p := start(t, exec.Command(bin, "serve", cfgPath), port, syscall.SIGTERM)
		err := func() error {
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				if p.Cmd.ProcessState != nil {
					return fmt.Errorf("exited")
				}
				resp, err := http.Get("http://" + p.Addr() + "/v2/")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
						return nil
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			return fmt.Errorf("no answer on %s", p.Addr())
		}()
		if err == nil {
			return &Registry{Process: p, Username: username, Password: password}
		}
		p.Stop(t)
		if attempt == 2 || !strings.Contains(p.Output(), "address already in use") {
			t.Fatalf("docker-registry did not start: %v\n%s", err, p.Output())
		}
	}
}
