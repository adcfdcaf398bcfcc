package sbom

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/closure"
	"github.com/nixify/nixify/internal/sbom/sbomtest"
)

// validator checks documents of format against the official schema.
func validator(t testing.TB, format string) func([]byte) error {
	t.Helper()
	return func(doc []byte) error { return sbomtest.Validate(format, doc) }
}

// fixture is a closure with what real ones hold: a store path with source, licences and a
// non-SPDX licence, one referring to it with a Go binary, and Go modules.
func fixture() *closure.Closure {
	lib := "/nix/store/aj4vw975fcdg4mrcvwlq6j5gf3ww7ds6-libfoo-1.0"
	app := "/nix/store/kh876wf6dskp05f36l300126k0mbp21d-app-2.0"
	return &closure.Closure{
		Version: 1, Arch: "x86_64", System: "x86_64-linux", OutPath: "/nix/store/gysm30gzs1rz2y0faqdb0fd5b2glaa2n-stream-image",
		DrvPath: "/nix/store/vac2d8yhg0isajhr72x7cb3d6yw5ln3a-stream-image.drv", Builder: "cross", Host: "x86_64-linux",
		Source: closure.Source{Flake: ".", Installable: ".#packages.x86_64-linux.image", URL: "git+file:///src?rev=abc",
			Revision: "0123456789abcdef0123456789abcdef01234567", NarHash: "sha256-nB5dtRNKFC9zG1N8SayMTCrxe35XfED/YwUEQUw87bM=",
			NixpkgsRevision: "181cc43c0000000000000000000000000000000a", NixpkgsURL: "github:NixOS/nixpkgs/181cc43c0000000000000000000000000000000a"},
		StartedAt: time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC), FinishedAt: time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC),
		Components: []closure.Component{
			{Type: closure.Nix, Name: "libfoo", Version: "1.0", StorePath: lib, NarHash: strings.Repeat("ab", 32), NarSize: 464,
				Deriver: "/nix/store/ji4v1gplkx3sl39pnhwzhmbvm3dc7d99-libfoo-1.0.drv", Licenses: []string{"MIT", "LicenseRef-nixpkgs-unfree redist"},
				Homepage: "https://example.org/libfoo", SourceURL: "https://example.org/libfoo-1.0.tar", SourceAlgo: "sha256", SourceHash: strings.Repeat("cd", 32)},
			{Type: closure.Nix, Name: "app", Version: "2.0", StorePath: app, NarHash: strings.Repeat("ef", 32), NarSize: 1000, References: []string{lib},
				Licenses: []string{"Apache-2.0"}},
			{Type: closure.Golang, Name: "github.com/nixify/nixify", Version: "(devel)", In: app, Binary: "bin/nixify-init", Main: true},
			{Type: closure.Golang, Name: "github.com/spf13/pflag", Version: "v1.0.10", Sum: "h1:abc=", In: app, Binary: "bin/nixify-init"},
		},
		Layers: []closure.Layer{{DiffID: "sha256:" + strings.Repeat("1", 64), Size: 2048, StorePaths: []string{lib}}, {DiffID: "sha256:" + strings.Repeat("2", 64), Size: 4096, StorePaths: []string{app}}},
	}
}

var subject = Subject{Name: "ghcr.io/owner/nixify-health-check", Digest: "sha256:" + strings.Repeat("9f", 32)}

func TestDocumentsAreValidAgainstTheOfficialSchemas(t *testing.T) {
	for _, format := range []string{CycloneDX, SPDX} {
		doc, err := Generate(format, fixture(), subject)
		if err != nil {
			t.Fatal(err)
		}
		if err := validator(t, format)(doc); err != nil {
			t.Errorf("%s: %v\n%s", format, err, doc)
		}
		// An empty closure (an image without Nix store paths) is valid too.
		empty := &closure.Closure{Components: []closure.Component{}}
		doc, err = Generate(format, empty, subject)
		if err != nil {
			t.Fatal(err)
		}
		if err := validator(t, format)(doc); err != nil {
			t.Errorf("%s of an empty closure: %v", format, err)
		}
	}
}

func TestSchemaValidationCatchesABrokenDocument(t *testing.T) {
	// The validator must be able to fail: a CycloneDX document with a bad hash and an SPDX one
	// with a relationship SPDX does not know.
	doc, _ := CycloneDXJSON(fixture(), subject)
	bad := bytes.Replace(doc, []byte(`"alg": "SHA-256"`), []byte(`"alg": "SHA-257"`), 1)
	if validator(t, CycloneDX)(bad) == nil {
		t.Error("a CycloneDX document with an unknown hash algorithm passed")
	}
	doc, _ = SPDXJSON(fixture(), subject)
	bad = bytes.Replace(doc, []byte(`"relationshipType": "CONTAINS"`), []byte(`"relationshipType": "HOLDS"`), 1)
	if validator(t, SPDX)(bad) == nil {
		t.Error("an SPDX document with an unknown relationship passed")
	}
}

func TestCycloneDXNamesTheImageComponentsAndGraph(t *testing.T) {
	doc, err := CycloneDXJSON(fixture(), subject)
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		SerialNumber string `json:"serialNumber"`
		Metadata     struct {
			Component struct {
				Name, Version, Purl string
				Hashes              []struct{ Alg, Content string }
			}
		}
		Components []struct {
			BOMRef   string `json:"bom-ref"`
			Name     string
			Purl     string
			Licenses []struct{ Expression string }
			External []struct {
				Type, URL string
				Hashes    []struct{ Alg, Content string }
			} `json:"externalReferences"`
		}
		Dependencies []struct {
			Ref       string
			DependsOn []string
		}
	}
	if err := json.Unmarshal(doc, &bom); err != nil {
		t.Fatal(err)
	}
	m := bom.Metadata.Component
	if m.Version != subject.Digest || m.Hashes[0].Content != strings.Repeat("9f", 32) || m.Purl != "pkg:oci/nixify-health-check@sha256%3A"+strings.Repeat("9f", 32)+"?repository_url=ghcr.io/owner/nixify-health-check" {
		t.Errorf("subject = %+v", m)
	}
	purls := map[string]string{}
	for _, c := range bom.Components {
		purls[c.Name] = c.Purl
		if c.Name == "libfoo" {
			if c.Licenses[0].Expression != "(MIT AND LicenseRef-nixpkgs-unfree-redist)" || c.External[1].URL != "https://example.org/libfoo-1.0.tar" || c.External[1].Hashes[0].Content != strings.Repeat("cd", 32) {
				t.Errorf("libfoo = %+v", c)
			}
		}
	}
	if purls["libfoo"] != "pkg:nix/libfoo@1.0" || purls["github.com/spf13/pflag"] != "pkg:golang/github.com/spf13/pflag@v1.0.10" {
		t.Errorf("purls = %v", purls)
	}
	deps := map[string][]string{}
	for _, d := range bom.Dependencies {
		deps[d.Ref] = d.DependsOn
	}
	app := fixture().Components[1]
	if strings.Join(deps["image"], ",") != app.StorePath || len(deps[app.StorePath]) != 3 || deps[app.StorePath][0] != fixture().Components[0].StorePath {
		t.Errorf("dependencies = %v", deps)
	}
	// The same record and subject give the same bytes: a re-push finds the document uploaded.
	again, _ := CycloneDXJSON(fixture(), subject)
	if !bytes.Equal(doc, again) {
		t.Error("two documents of the same image differ")
	}
	other, _ := CycloneDXJSON(fixture(), Subject{Name: subject.Name, Digest: "sha256:" + strings.Repeat("00", 32)})
	var o struct{ SerialNumber string }
	_ = json.Unmarshal(other, &o)
	if o.SerialNumber == bom.SerialNumber {
		t.Error("two images share a serial number")
	}
}

func TestProvenanceSaysHowTheImageWasBuilt(t *testing.T) {
	c := fixture()
	c.CI = closure.CIFromEnv(env{
		"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "owner/repo",
		"GITHUB_WORKFLOW_REF": "owner/repo/.github/workflows/build-docker.yml@refs/heads/main", "GITHUB_RUN_ID": "42",
		"GITHUB_RUN_ATTEMPT": "1", "GITHUB_SHA": "feedface", "GITHUB_REF": "refs/heads/main",
	}.get)
	doc, err := ProvenanceJSON(c, subject)
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	for _, want := range []string{
		`"_type": "https://in-toto.io/Statement/v1"`, `"predicateType": "https://slsa.dev/provenance/v1"`,
		`"sha256": "` + strings.Repeat("9f", 32) + `"`, `"installable": ".#packages.x86_64-linux.image"`,
		`"system": "x86_64-linux"`, `"builder": "cross"`, `"gitCommit": "0123456789abcdef0123456789abcdef01234567"`,
		`"gitCommit": "181cc43c0000000000000000000000000000000a"`, `"uri": "file://` + c.DrvPath + `"`,
		`"startedOn": "2026-11-30T01:00:00Z"`, `"finishedOn": "2026-11-30T01:02:03Z"`,
		`"id": "https://github.com/owner/repo/.github/workflows/build-docker.yml@refs/heads/main"`,
		`"invocationId": "https://github.com/owner/repo/actions/runs/42/attempts/1"`, `"gitCommit": "feedface"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("provenance lacks %s\n%s", want, text)
		}
	}
	var st statement
	if err := json.Unmarshal(doc, &st); err != nil || len(st.Subject) != 1 {
		t.Fatalf("statement: %v", err)
	}
}

type env map[string]string

func (e env) get(k string) string { return e[k] }
