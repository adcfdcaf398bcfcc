package push

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/closure"
	"github.com/nixify/nixify/internal/publish"
	"github.com/nixify/nixify/internal/record"
	"github.com/nixify/nixify/internal/referrer"
	"github.com/nixify/nixify/internal/sbom"
)

// attachments gives the publisher each architecture's SBOM and provenance, made from the build's
// closure record for the image's digest in repo. A build recorded by a nixify that did not
// record closures gets none, with a note saying how to have them.
func attachments(opts *Options, repo string, store record.Store) publish.AttachFunc {
	return func(a arch.Arch, subject v1.Descriptor) ([]referrer.Artifact, error) {
		b, err := store.Latest(a)
		if err != nil {
			return nil, err
		}
		if b.Closure == "" {
			opts.IO.Errorf("note: %s build has no closure record: build again to attach its SBOM\n", a)
			return nil, nil
		}
		c, err := closure.Load(b.Closure)
		if err != nil {
			return nil, err
		}
		return sbom.Artifacts(c, sbom.Subject{Name: repo, Digest: subject.Digest.String()})
	}
}

// reportReferrers says what was attached to each image (or, dry, would be).
func reportReferrers(opts *Options, res *publish.Result) {
	st, verb := opts.IO.Styles(), verbOf(res, "attached", "would attach")
	for _, it := range res.Referrers {
		// To the image of that architecture listed above (-o json names it): the line fits 80 columns.
		opts.IO.Errorf("%s %s %s %s\n", st.OK.Render(verb), it.Arch, it.ArtifactType, st.Faint.Render(it.Digest[:19]))
	}
}
