package sbom

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/nixify/nixify/internal/closure"
	"github.com/nixify/nixify/internal/nix"
)

// in-toto Statement v1 with a SLSA provenance v1 predicate.
type statement struct {
	Type          string          `json:"_type"`
	Subject       []intotoSubject `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     provenance      `json:"predicate"`
}

type intotoSubject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

type provenance struct {
	BuildDefinition buildDefinition `json:"buildDefinition"`
	RunDetails      runDetails      `json:"runDetails"`
}

type buildDefinition struct {
	BuildType            string         `json:"buildType"`
	ExternalParameters   map[string]any `json:"externalParameters"`
	InternalParameters   map[string]any `json:"internalParameters,omitempty"`
	ResolvedDependencies []descriptor   `json:"resolvedDependencies,omitempty"`
}

type descriptor struct {
	Name   string            `json:"name,omitempty"`
	URI    string            `json:"uri,omitempty"`
	Digest map[string]string `json:"digest,omitempty"`
}

type runDetails struct {
	Builder    builder      `json:"builder"`
	Metadata   runMetadata  `json:"metadata"`
	Byproducts []descriptor `json:"byproducts,omitempty"`
}

type builder struct {
	ID      string            `json:"id"`
	Version map[string]string `json:"version,omitempty"`
}

type runMetadata struct {
	InvocationID string `json:"invocationId,omitempty"`
	StartedOn    string `json:"startedOn,omitempty"`
	FinishedOn   string `json:"finishedOn,omitempty"`
}

// BuildType names how nixify builds: `nix build` of a flake attribute.
const BuildType = "https://github.com/nixify/nixify/buildtypes/nix-flake/v1"

// Statement types.
const (
	StatementType     = "https://in-toto.io/Statement/v1"
	SLSAProvenanceV1  = "https://slsa.dev/provenance/v1"
	localBuilderIDFmt = "https://github.com/nixify/nixify/builders/local"
)

// ProvenanceJSON writes the in-toto statement of how the image was built: the flake and its
// locked revision, the nixpkgs revision, the system, the builder (native, emulated, remote,
// cross), the derivation, start and finish, and in GitHub Actions the workflow, run and commit.
func ProvenanceJSON(c *closure.Closure, s Subject) ([]byte, error) {
	st := statement{Type: StatementType, PredicateType: SLSAProvenanceV1,
		Subject: []intotoSubject{{Name: s.Name, Digest: map[string]string{"sha256": s.hex()}}}}
	ext := map[string]any{
		"flake":       c.Source.Flake,
		"installable": c.Source.Installable,
		"system":      c.System,
	}
	internal := map[string]any{"builder": c.Builder}
	if c.Host != "" {
		internal["host"] = c.Host
	}
	def := buildDefinition{BuildType: BuildType, ExternalParameters: ext, InternalParameters: internal}
	src := descriptor{Name: "flake", URI: firstOf(c.Source.URL, c.Source.Flake), Digest: map[string]string{}}
	if c.Source.Revision != "" {
		src.Digest["gitCommit"] = c.Source.Revision
	}
	if h := nix.HexHash(c.Source.NarHash); h != "" {
		src.Digest["sha256"] = h // of the flake source's NAR
	}
	def.ResolvedDependencies = append(def.ResolvedDependencies, src)
	if c.Source.NixpkgsRevision != "" {
		def.ResolvedDependencies = append(def.ResolvedDependencies, descriptor{Name: "nixpkgs", URI: c.Source.NixpkgsURL,
			Digest: map[string]string{"gitCommit": c.Source.NixpkgsRevision}})
	}
	if c.DrvPath != "" {
		def.ResolvedDependencies = append(def.ResolvedDependencies, descriptor{Name: "derivation", URI: "file://" + c.DrvPath})
	}

	run := runDetails{Builder: builder{ID: localBuilderIDFmt, Version: map[string]string{"nixify": toolVersion()}}}
	if !c.StartedAt.IsZero() {
		run.Metadata.StartedOn = c.StartedAt.UTC().Format(time.RFC3339Nano)
	}
	if !c.FinishedAt.IsZero() {
		run.Metadata.FinishedOn = c.FinishedAt.UTC().Format(time.RFC3339Nano)
	}
	if ci := c.CI; ci != nil {
		server := firstOf(ci.Server, "https://github.com")
		run.Builder.ID = server + "/" + ci.Workflow
		run.Metadata.InvocationID = server + "/" + ci.Repository + "/actions/runs/" + ci.RunID
		if ci.RunAttempt != "" {
			run.Metadata.InvocationID += "/attempts/" + ci.RunAttempt
		}
		path, ref, _ := strings.Cut(strings.TrimPrefix(ci.Workflow, ci.Repository+"/"), "@")
		ext["workflow"] = map[string]string{"repository": server + "/" + ci.Repository, "path": path, "ref": ref}
		internal["github"] = map[string]string{"runId": ci.RunID, "runAttempt": ci.RunAttempt, "sha": ci.Commit}
		def.ResolvedDependencies = append(def.ResolvedDependencies, descriptor{URI: "git+" + server + "/" + ci.Repository + "@" + ci.Ref,
			Digest: map[string]string{"gitCommit": ci.Commit}})
	}
	run.Byproducts = []descriptor{{Name: "nix-output", URI: "file://" + c.OutPath}}
	st.Predicate = provenance{BuildDefinition: def, RunDetails: run}
	return json.MarshalIndent(st, "", "  ")
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
