package referrer

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/nixify/nixify/internal/testpeer"
)

// peers are the two registries: Debian's docker-registry (distribution 2.8, no referrers API)
// and go-containerregistry's in-process registry with its referrers API turned on.
func peers(t *testing.T) map[string]string {
	reg := testpeer.StartRegistry(t, "", "")
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithReferrersSupport(true)))
	t.Cleanup(srv.Close)
	return map[string]string{"distribution": reg.Addr(), "in-process": strings.TrimPrefix(srv.URL, "http://")}
}

func TestAttachListFetchOnBothRegistries(t *testing.T) {
	ctx := context.Background()
	for kind, host := range peers(t) {
		t.Run(kind, func(t *testing.T) {
			repo, err := name.NewRepository(host + "/nixify/app")
			if err != nil {
				t.Fatal(err)
			}
			img, err := random.Image(512, 2)
			if err != nil {
				t.Fatal(err)
			}
			dig, _ := img.Digest()
			if err := remote.Write(repo.Digest(dig.String()), img); err != nil {
				t.Fatal(err)
			}
			sub, err := remote.Head(repo.Digest(dig.String()))
			if err != nil {
				t.Fatal(err)
			}
			arts := []Artifact{
				{ArtifactType: "application/vnd.cyclonedx+json", Data: []byte(`{"bomFormat":"CycloneDX"}`), Annotations: map[string]string{Created: "2026-11-30T01:00:00Z"}},
				{ArtifactType: "application/vnd.in-toto+json", Data: []byte(`{"_type":"https://in-toto.io/Statement/v1"}`)},
			}
			// Written as the publisher writes them: each referrer as an image, by digest.
			var got []Attached
			for _, a := range arts {
				ri, err := Image(*sub, a)
				if err != nil {
					t.Fatal(err)
				}
				d, _ := ri.Digest()
				if err := remote.Write(repo.Digest(d.String()), ri); err != nil {
					t.Fatal(err)
				}
				got = append(got, Attached{ArtifactType: a.ArtifactType, Digest: d.String()})
			}
			subject := repo.Digest(dig.String())
			listed, err := List(ctx, subject)
			if err != nil {
				t.Fatal(err)
			}
			types := map[string]string{}
			for _, a := range listed {
				types[a.ArtifactType] = a.Digest
			}
			if types["application/vnd.cyclonedx+json"] != got[0].Digest || types["application/vnd.in-toto+json"] != got[1].Digest {
				t.Errorf("listed = %+v, want both attached with their types", listed)
			}
			wantScheme := "referrers API"
			if kind == "distribution" {
				wantScheme = "fallback tag sha256-" + dig.Hex
			}
			if s := Scheme(ctx, subject); s != wantScheme {
				t.Errorf("scheme = %q, want %q", s, wantScheme)
			}
			data, a, err := Fetch(ctx, subject, "application/vnd.cyclonedx+json")
			if err != nil || string(data) != string(arts[0].Data) || a.Annotations[Created] == "" {
				t.Errorf("fetch = %q %+v %v", data, a, err)
			}

			// Another tool reads the referrer: skopeo (and crane) fetch its manifest by digest.
			skopeo := testpeer.Binary(t, "skopeo")
			out, err := exec.Command(skopeo, "inspect", "--tls-verify=false", "--raw", "docker://"+repo.String()+"@"+got[0].Digest).Output()
			if err != nil {
				t.Fatalf("skopeo: %v", err)
			}
			var m v1.Manifest
			if err := json.Unmarshal(out, &m); err != nil || m.Subject == nil || m.Subject.Digest != dig || string(m.ArtifactType) != "application/vnd.cyclonedx+json" {
				t.Errorf("skopeo read %s (%v)", out, err)
			}
			if kind == "distribution" {
				// The fallback tag is an index of the referrers.
				out, err := exec.Command(skopeo, "inspect", "--tls-verify=false", "--raw", "docker://"+repo.String()+":sha256-"+dig.Hex).Output()
				if err != nil || !strings.Contains(string(out), got[0].Digest) || !strings.Contains(string(out), got[1].Digest) {
					t.Errorf("fallback tag: %s %v", out, err)
				}
			}
			crane := testpeer.Binary(t, "crane")
			blob, err := exec.Command(crane, "blob", "--insecure", repo.String()+"@"+m.Layers[0].Digest.String()).Output()
			if err != nil || string(blob) != string(arts[0].Data) {
				t.Errorf("crane blob = %q, %v", blob, err)
			}
		})
	}
}
