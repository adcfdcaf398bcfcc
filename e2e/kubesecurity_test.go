package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/kube"
)

// TestDeploySecurityContextRunsTheImage runs the test image on the Docker engine under the
// security context `nixify deploy` gives the pod (kube.Capabilities and nothing else, no privilege
// escalation, a read-only root with the run directory and /tmp on tmpfs, root as the init's user),
// through a first boot and a restart on the same volume (where the data already belongs to the
// services' users): what the manifest claims the init needs is checked, not guessed.
func TestDeploySecurityContextRunsTheImage(t *testing.T) {
	img := fullImage(t)
	docker := func(args ...string) (string, error) {
		out, err := exec.Command("docker", args...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := docker("load", "-i", img.path); err != nil {
		t.Fatalf("docker load: %v: %s", err, out)
	}
	name := "nixify-e2e-kubesec-" + randomSuffix()
	args := []string{"run", "-d", "--name", name, "--user", "0", "--read-only", "--security-opt", "no-new-privileges",
		"--tmpfs", "/run/postgresql", "--tmpfs", "/tmp", "--cap-drop", "ALL",
		"-v", name + ":/data", "-e", "APP_PORT=80", "-p", "127.0.0.1::80"}
	for _, c := range kube.Capabilities {
		args = append(args, "--cap-add", string(c))
	}
	args = append(args, img.tag)
	t.Cleanup(func() {
		docker("rm", "-f", name)
		docker("volume", "rm", "-f", name)
	})
	if out, err := docker(args...); err != nil {
		t.Fatalf("docker run: %v: %s", err, out)
	}
	for boot := 1; boot <= 2; boot++ {
		if boot == 2 {
			if out, err := docker("restart", "-t", "20", name); err != nil {
				t.Fatalf("docker restart: %v: %s", err, out)
			}
		}
		port, err := docker("inspect", "-f", `{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}`, name)
		if err != nil {
			logs, _ := docker("logs", "--tail", "30", name)
			t.Fatalf("boot %d under the deploy security context: the container is not running (%s):\n%s", boot, port, logs)
		}
		var last string
		deadline := time.Now().Add(2 * time.Minute)
		for {
			ready := get(fmt.Sprintf("http://127.0.0.1:%s/readyz", port))
			live := get(fmt.Sprintf("http://127.0.0.1:%s/livez", port))
			if ready == 200 && live == 200 {
				break
			}
			last = fmt.Sprintf("readyz %d, livez %d", ready, live)
			if time.Now().After(deadline) {
				logs, _ := docker("logs", "--tail", "30", name)
				t.Fatalf("boot %d under the deploy security context: not ready in 2m (%s):\n%s", boot, last, logs)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
}

func get(url string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
