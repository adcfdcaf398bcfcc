package info

import (
	"context"
	"slices"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/referrer"
	"github.com/nixify/nixify/internal/registryclient"
)

// Attachments are the referrers of one registry image (SBOM, provenance, signatures ...).
type Attachments struct {
	Image     string              `json:"image"`                  // REPO@sha256:... of the image they refer to
	Arch      string              `json:"-"`                      // Nix's name, for the text
	OCIArch   string              `json:"architecture,omitempty"` // OCI's name, for JSON
	Scheme    string              `json:"scheme"`                 // referrers API, or the fallback tag
	Referrers []referrer.Attached `json:"referrers"`
	Error     string              `json:"error,omitempty"` // why they could not be listed
}

// attachments lists what is attached to each registry image of the set. A registry that refuses
// the listing does not fail `info`: the error is reported with the image.
func attachments(ctx context.Context, set *image.Set, archs []arch.Arch) []Attachments {
	var out []Attachments
	for _, img := range set.Images {
		if img.Kind != image.FromRegistry || (len(archs) > 0 && img.Arch != "" && !slices.Contains(archs, img.Arch)) {
			continue
		}
		d, err := img.V1.Digest()
		if err != nil {
			continue
		}
		subject := img.Repo.Digest(d.String())
		a := Attachments{Image: subject.String(), Arch: img.Arch.String(), OCIArch: img.Arch.GOARCH(), Referrers: []referrer.Attached{}}
		client, err := registryclient.ForRepository(img.Repo)
		if err == nil {
			var list []referrer.Attached
			if list, err = referrer.List(ctx, subject, client.Options(ctx)...); err == nil {
				a.Referrers = list
				a.Scheme = referrer.Scheme(ctx, subject, client.Options(ctx)...)
			}
		}
		if err != nil {
			a.Error = err.Error()
		}
		out = append(out, a)
	}
	return out
}

// renderAttachments prints, per registry image, what is attached to it.
func renderAttachments(io *iostreams.IOStreams, all []Attachments) {
	st := io.Styles()
	for _, a := range all {
		title := a.Image
		if a.Arch != "" {
			title = a.Arch + "  " + title
		}
		io.Printf("\n%s\n", st.Bold.Render("attached to "+title))
		switch {
		case a.Error != "":
			io.Printf("  %s\n", st.Faint.Render("cannot list: "+a.Error))
		case len(a.Referrers) == 0:
			io.Printf("  %s\n", st.Faint.Render("nothing (nixify push attaches an SBOM and provenance unless --no-sbom)"))
		default:
			for _, r := range a.Referrers {
				created := r.Annotations[referrer.Created]
				io.Printf("  %-31s %s %8s  %s\n", r.ArtifactType, short(r.Digest), iostreams.Bytes(r.Size), st.Faint.Render(created))
			}
			// Full digests are in -o json; the text stays within 80 columns where it can.
			scheme := a.Scheme
			if len(scheme) > 40 {
				scheme = scheme[:40] + "…"
			}
			io.Printf("  %s\n  %s\n", st.Faint.Render("kept by the "+scheme), st.Faint.Render("read with: nixify sbom "+a.Image))
		}
	}
}

// short is a digest cut to the length push prints: sha256: and 12 hex digits.
func short(d string) string { return d[:min(len(d), 19)] }
