package publish_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/publish"
	"github.com/nixify/nixify/internal/registryclient"
	"github.com/nixify/nixify/internal/testpeer"
)

// crane finds go-containerregistry's crane (installed by .ci/run with go install, so it may sit in
// GOPATH/bin rather than on PATH).
func crane(t *testing.T) string {
	if p, err := exec.LookPath("crane"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "crane")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	testpeer.Missing(t, "crane", "go install github.com/google/go-containerregistry/cmd/crane@v0.22.1")
	return ""
}

// TestPushToDockerRegistry pushes both architectures to Debian's docker-registry with bcrypt basic
// auth and checks the result with skopeo and crane, two clients that share no code with nixify.
func TestPushToDockerRegistry(t *testing.T) {
	skopeo := testpeer.Binary(t, "skopeo")
	craneBin := crane(t)
	reg := testpeer.StartRegistry(t, "ci", "registry-secret")
	repo := reg.Addr() + "/owner/nixify-health-check"

	r := request(openImages(t))
	res, err := push(repo, r, nil, publish.WithTags("v1"), publish.WithRegistry(registryclient.WithCredentials(&registryclient.Credentials{Username: "ci", Password: "registry-secret"})))
	if err != nil {
		t.Fatal(err)
	}
	creds := "--creds=ci:registry-secret"
	for _, tag := range []string{"latest", "feature-x-0123456", "v1"} {
		out, err := exec.Command(skopeo, "inspect", "--tls-verify=false", creds, "--raw", "docker://"+repo+":"+tag).Output()
		if err != nil {
			t.Fatalf("skopeo inspect %s: %v", tag, err)
		}
		var idx struct {
			MediaType string `json:"mediaType"`
			Manifests []struct {
				Digest      string                            `json:"digest"`
				Platform    struct{ Architecture, OS string } `json:"platform"`
				Annotations map[string]string                 `json:"annotations"`
			} `json:"manifests"`
			Annotations map[string]string `json:"annotations"`
		}
		if err := json.Unmarshal(out, &idx); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		if idx.MediaType != "application/vnd.oci.image.index.v1+json" || len(idx.Manifests) != 2 ||
			idx.Manifests[0].Platform.Architecture != "amd64" || idx.Manifests[1].Platform.Architecture != "arm64" {
			t.Errorf("index %s: %s", tag, out)
		}
		for _, k := range []string{"source", "revision", "created", "description", "licenses"} {
			if idx.Annotations["org.opencontainers.image."+k] == "" || idx.Manifests[0].Annotations["org.opencontainers.image."+k] == "" {
				t.Errorf("annotation %s missing on index or entry: %s", k, out)
			}
		}
	}
	for _, a := range arch.All {
		for _, tag := range []string{"latest-" + a.String() + "-linux-static", "feature-x-0123456-" + a.String() + "-static"} {
			out, err := exec.Command(skopeo, "inspect", "--tls-verify=false", creds, "docker://"+repo+":"+tag).Output()
			if err != nil {
				t.Fatalf("skopeo inspect %s: %v", tag, err)
			}
			var m struct{ Architecture string }
			json.Unmarshal(out, &m)
			if m.Architecture != a.GOARCH() {
				t.Errorf("%s is %s", tag, m.Architecture)
			}
		}
	}
	// crane reads credentials from a docker config of its own.
	home := t.TempDir()
	login := exec.Command(craneBin, "auth", "login", reg.Addr(), "-u", "ci", "--password-stdin")
	login.Env = append(os.Environ(), "DOCKER_CONFIG="+home)
	login.Stdin = strings.NewReader("registry-secret")
	if out, err := login.CombinedOutput(); err != nil {
		t.Fatalf("crane auth login: %v: %s", err, out)
	}
	for _, ref := range res.Refs() {
		v := exec.Command(craneBin, "validate", "--remote", ref)
		v.Env = append(os.Environ(), "DOCKER_CONFIG="+home)
		if out, err := v.CombinedOutput(); err != nil {
			t.Errorf("crane validate %s: %v: %s", ref, err, out)
		}
	}
	// A wrong password is refused with the registry and the credential source named.
	_, err = push(repo, r, nil, publish.WithRegistry(registryclient.WithCredentials(&registryclient.Credentials{Username: "ci", Password: "wrong-password"})))
	if err == nil || !strings.Contains(err.Error(), reg.Addr()) || !strings.Contains(err.Error(), "--username") || strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("wrong password: %v", err)
	}
}
