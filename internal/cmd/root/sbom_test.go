package root

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/nixify/nixify/internal/build/buildtest"
	"github.com/nixify/nixify/internal/sbom/sbomtest"
	"github.com/nixify/nixify/internal/testpeer"
)

// The user's path, through the real commands: nixify build (real nix, the test flake's image
// with a Go binary), nixify push to Debian's docker-registry (no referrers API: the fallback
// tag) and to go-containerregistry's in-process registry with its referrers API, each read back
// with skopeo and crane and with nixify sbom REF; a second push uploads nothing.
func TestBuildPushAndReadBackTheSBOM(t *testing.T) {
	buildtest.Nix(t)
	t.Setenv("NIX_CONFIG", buildtest.Config)
	ref, flakeDir := buildtest.Flake(t)
	buildtest.GoBinary(t, flakeDir)
	dir := t.TempDir()
	cfg := "flake: " + ref + "\nattr: " + buildtest.AppStream + "\nstate_dir: " + filepath.Join(dir, "state") + "\narchitectures: [x86_64]\n"
	if err := os.WriteFile(filepath.Join(dir, "nixify.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(t, nil, dir, "build", "--arch", "x86_64"); r.code != 0 {
		t.Fatalf("build: %d %s", r.code, r.errOut)
	}
	local := run(t, nil, dir, "sbom")
	if local.code != 0 || sbomtest.Validate("cyclonedx", []byte(local.out)) != nil || !strings.Contains(local.out, "pkg:nix/libfoo@1.0") {
		t.Fatalf("sbom of the last build: %d %s %s", local.code, local.errOut, local.out)
	}
	spdx := run(t, nil, dir, "sbom", "--format", "spdx")
	if spdx.code != 0 || sbomtest.Validate("spdx", []byte(spdx.out)) != nil {
		t.Fatalf("spdx of the last build: %d %s", spdx.code, spdx.errOut)
	}

	dist := testpeer.StartRegistry(t, "", "")
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true)))
	t.Cleanup(srv.Close)
	skopeo, crane := testpeer.Binary(t, "skopeo"), testpeer.Binary(t, "crane")
	for kind, host := range map[string]string{"distribution": dist.Addr(), "in-process": strings.TrimPrefix(srv.URL, "http://")} {
		t.Run(kind, func(t *testing.T) {
			repo := host + "/nixify/app"
			push := run(t, nil, dir, "push", "--repo", repo, "--arch", "x86_64", "--tag", "v1", "--force")
			if push.code != 0 {
				t.Fatalf("push: %d %s", push.code, push.errOut)
			}
			if !strings.Contains(push.errOut, "attached x86_64 application/vnd.cyclonedx+json") || !strings.Contains(push.errOut, "attached x86_64 application/vnd.in-toto+json") {
				t.Errorf("push did not say what it attached: %s", push.errOut)
			}
			refs := strings.Fields(push.out) // the image, then the index: REPO@sha256:...
			if len(refs) != 2 {
				t.Fatalf("push printed %q", push.out)
			}
			image := refs[0]
			digest := image[strings.Index(image, "@")+1:]

			back := run(t, nil, dir, "sbom", repo+":v1")
			if back.code != 0 {
				t.Fatalf("sbom %s: %d %s", repo, back.code, back.errOut)
			}
			if err := sbomtest.Validate("cyclonedx", []byte(back.out)); err != nil {
				t.Errorf("attached SBOM: %v", err)
			}
			var bom struct {
				Metadata struct {
					Component struct{ Name, Version string }
				}
			}
			json.Unmarshal([]byte(back.out), &bom)
			if bom.Metadata.Component.Version != digest || bom.Metadata.Component.Name != repo {
				t.Errorf("attached SBOM's subject = %+v, want %s %s", bom.Metadata.Component, repo, digest)
			}
			prov := run(t, nil, dir, "sbom", "--provenance", image)
			if prov.code != 0 || !strings.Contains(prov.out, `"predicateType": "https://slsa.dev/provenance/v1"`) || !strings.Contains(prov.out, strings.TrimPrefix(digest, "sha256:")) {
				t.Errorf("attached provenance: %d %s %s", prov.code, prov.errOut, prov.out)
			}

			// Other tools find the referrers where the distribution spec puts them.
			var index []byte
			var err error
			if kind == "distribution" {
				index, err = exec.Command(skopeo, "inspect", "--tls-verify=false", "--raw", "docker://"+repo+":"+strings.Replace(digest, ":", "-", 1)).Output()
			} else {
				index, err = exec.Command(crane, "manifest", "--insecure", repo+"@"+digest).Output()
				if err == nil {
					index, err = httpGet("http://" + host + "/v2/nixify/app/referrers/" + digest)
				}
			}
			if err != nil || !strings.Contains(string(index), "application/vnd.cyclonedx+json") || !strings.Contains(string(index), "application/vnd.in-toto+json") {
				t.Errorf("%s referrers index: %s %v", kind, index, err)
			}

			// info lists what is attached to the image.
			info := run(t, nil, dir, "info", repo+":v1", "--arch", "x86_64")
			if info.code != 0 || !strings.Contains(info.out, "attached to x86_64") || !strings.Contains(info.out, "application/vnd.cyclonedx+json") || !strings.Contains(info.out, "application/vnd.in-toto+json") {
				t.Errorf("info %s: %d %s %s", repo, info.code, info.errOut, info.out)
			}

			again := run(t, nil, dir, "push", "--repo", repo, "--arch", "x86_64", "--tag", "v1", "--force")
			if again.code != 0 || !strings.Contains(again.errOut, "unchanged:") || strings.Contains(again.errOut, "attached x86_64") {
				t.Errorf("re-push: %d %s", again.code, again.errOut)
			}
		})
	}

	// A registry image that has no SBOM: one line, exit 1, and how to attach one.
	bare := run(t, nil, dir, "push", "--repo", dist.Addr()+"/nixify/bare", "--arch", "x86_64", "--tag", "v1", "--force", "--no-sbom")
	if bare.code != 0 || strings.Contains(bare.errOut, "attached") {
		t.Fatalf("push --no-sbom: %d %s", bare.code, bare.errOut)
	}
	none := run(t, nil, dir, "sbom", dist.Addr()+"/nixify/bare:v1")
	if none.code != 1 || !strings.Contains(none.errOut, "not attached") || strings.Count(strings.TrimSpace(none.errOut), "\n") > 1 {
		t.Errorf("sbom of an image without one: %d %q", none.code, none.errOut)
	}
	if bad := run(t, nil, dir, "sbom", "--format", "swid"); bad.code != 2 {
		t.Errorf("--format swid: %d %s", bad.code, bad.errOut)
	}
}

func httpGet(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
