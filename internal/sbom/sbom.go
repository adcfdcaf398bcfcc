// Package sbom writes what a build's closure record (internal/closure) says of an image in the
// formats registries and scanners read: a CycloneDX 1.6 or SPDX 2.3 bill of materials and an
// in-toto statement with SLSA provenance v1. The documents are functions of the record and the
// subject only (no clock, no random serial), so an unchanged image gets byte-identical documents
// and a re-push has nothing new to upload.
package sbom

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/nixify/nixify/internal/closure"
	"github.com/nixify/nixify/internal/version"
)

// Media types of the documents, which are also the artifact types of their OCI referrers.
const (
	CycloneDXType  = "application/vnd.cyclonedx+json"
	SPDXType       = "application/spdx+json"
	ProvenanceType = "application/vnd.in-toto+json"
)

// Formats of `nixify sbom --format`.
const (
	CycloneDX = "cyclonedx"
	SPDX      = "spdx"
)

// Subject is the image a document describes.
type Subject struct {
	Name   string // the repository or image name, e.g. ghcr.io/owner/app
	Digest string // sha256:<hex> of the image manifest (pushed) or config (a local build)
}

func (s Subject) hex() string { return strings.TrimPrefix(s.Digest, "sha256:") }

// Generate writes the bill of materials in format (cyclonedx or spdx).
func Generate(format string, c *closure.Closure, s Subject) ([]byte, error) {
	switch format {
	case CycloneDX, "":
		return CycloneDXJSON(c, s)
	case SPDX:
		return SPDXJSON(c, s)
	}
	return nil, fmt.Errorf("unknown SBOM format %q: accepted: cyclonedx, spdx", format)
}

// MediaType is the media type of format.
func MediaType(format string) string {
	if format == SPDX {
		return SPDXType
	}
	return CycloneDXType
}

// Purl is the package URL of a component: pkg:nix/<name>@<version> for a store path,
// pkg:golang/<module>@<version> for a Go module.
func Purl(x closure.Component) string {
	var b strings.Builder
	b.WriteString("pkg:")
	if x.Type == closure.Golang {
		b.WriteString("golang/")
		segs := strings.Split(x.Name, "/")
		for i, s := range segs {
			if i > 0 {
				b.WriteByte('/')
			}
			b.WriteString(url.PathEscape(s))
		}
	} else {
		b.WriteString("nix/")
		b.WriteString(url.PathEscape(x.Name))
	}
	if x.Version != "" {
		b.WriteByte('@')
		b.WriteString(url.PathEscape(x.Version))
	}
	return b.String()
}

// imagePurl is the package URL of the image: pkg:oci/<name>@<digest>?repository_url=...
func imagePurl(s Subject) string {
	name := s.Name
	repo := ""
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		repo, name = s.Name, name[i+1:]
	}
	name, _, _ = strings.Cut(name, ":")
	p := "pkg:oci/" + url.PathEscape(strings.ToLower(name)) + "@" + strings.ReplaceAll(url.PathEscape(s.Digest), ":", "%3A")
	if repo != "" {
		if j := strings.LastIndexByte(repo, ':'); j > strings.LastIndexByte(repo, '/') {
			repo = repo[:j]
		}
		// As the purl specification's examples write it: slashes stay.
		p += "?repository_url=" + strings.ReplaceAll(url.QueryEscape(repo), "%2F", "/")
	}
	return p
}

func toolVersion() string { return version.Get().Version }

// uuidFrom makes a name-based UUID (version 5 layout over SHA-256) from the parts, so that the
// same image and record always get the same serial number.
func uuidFrom(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	b := h[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	x := hex.EncodeToString(b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

var notIDChar = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// licenseExpression joins a component's licences into one SPDX expression (nixpkgs lists
// several when parts of a package are under different licences, hence AND); identifiers that are
// not SPDX's become LicenseRef-... with only the characters SPDX allows.
func licenseExpression(ls []string) (expr string, refs []string) {
	var parts []string
	for _, l := range ls {
		if strings.HasPrefix(l, "LicenseRef-") {
			l = "LicenseRef-" + notIDChar.ReplaceAllString(strings.TrimPrefix(l, "LicenseRef-"), "-")
			refs = append(refs, l)
		} else {
			l = notIDChar.ReplaceAllString(l, "-")
		}
		parts = append(parts, l)
	}
	if len(parts) > 1 {
		return "(" + strings.Join(parts, " AND ") + ")", refs
	}
	return strings.Join(parts, ""), refs
}
