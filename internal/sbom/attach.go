package sbom

import (
	"time"

	"github.com/nixify/nixify/internal/closure"
	"github.com/nixify/nixify/internal/referrer"
)

// Artifacts are the documents `nixify push` attaches to an image: the CycloneDX bill of
// materials and the provenance statement. They are dated by the build (not the push), so an
// unchanged image gets the same referrers again and nothing is uploaded.
func Artifacts(c *closure.Closure, s Subject) ([]referrer.Artifact, error) {
	bom, err := CycloneDXJSON(c, s)
	if err != nil {
		return nil, err
	}
	prov, err := ProvenanceJSON(c, s)
	if err != nil {
		return nil, err
	}
	ann := func(desc string) map[string]string {
		a := map[string]string{"org.opencontainers.image.description": desc}
		if !c.FinishedAt.IsZero() {
			a[referrer.Created] = c.FinishedAt.UTC().Format(time.RFC3339)
		}
		return a
	}
	return []referrer.Artifact{
		{ArtifactType: CycloneDXType, Data: bom, Annotations: ann("CycloneDX 1.6 SBOM of the image's Nix closure")},
		{ArtifactType: ProvenanceType, Data: prov, Annotations: ann("in-toto statement, SLSA provenance v1")},
	}, nil
}
