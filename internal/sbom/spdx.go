package sbom

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/nixify/nixify/internal/closure"
)

// SPDX 2.3 JSON, the part of it nixify writes.
type spdxDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreation       `json:"creationInfo"`
	DocumentDescribes []string           `json:"documentDescribes"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
	Extracted         []spdxExtracted    `json:"hasExtractedLicensingInfos,omitempty"`
}

type spdxCreation struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	SPDXID           string            `json:"SPDXID"`
	Name             string            `json:"name"`
	VersionInfo      string            `json:"versionInfo,omitempty"`
	DownloadLocation string            `json:"downloadLocation"`
	Homepage         string            `json:"homepage,omitempty"`
	FilesAnalyzed    bool              `json:"filesAnalyzed"`
	Checksums        []spdxChecksum    `json:"checksums,omitempty"`
	LicenseConcluded string            `json:"licenseConcluded"`
	LicenseDeclared  string            `json:"licenseDeclared"`
	CopyrightText    string            `json:"copyrightText"`
	Description      string            `json:"description,omitempty"`
	Purpose          string            `json:"primaryPackagePurpose,omitempty"`
	ExternalRefs     []spdxExternalRef `json:"externalRefs,omitempty"`
	Comment          string            `json:"comment,omitempty"`
}

type spdxChecksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type spdxExternalRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

type spdxExtracted struct {
	LicenseID     string `json:"licenseId"`
	ExtractedText string `json:"extractedText"`
	Name          string `json:"name"`
}

// SPDXJSON writes the SPDX 2.3 document of the image: the image package (described by the
// document, with its digest), a package per store path and Go module with its purl, CONTAINS
// from the image to every package, and DEPENDS_ON along store path references and from a store
// path to the Go modules of its binaries.
func SPDXJSON(c *closure.Closure, s Subject) ([]byte, error) {
	created := c.FinishedAt.UTC()
	if created.IsZero() {
		created = time.Unix(0, 0).UTC()
	}
	doc := spdxDocument{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT", Name: s.Name + "@" + s.Digest,
		DocumentNamespace: "https://github.com/nixify/nixify/spdx/" + uuidFrom("spdx", s.Name, s.Digest, c.OutPath, toolVersion()),
		CreationInfo:      spdxCreation{Created: created.Format(time.RFC3339), Creators: []string{"Tool: nixify-" + toolVersion()}},
		DocumentDescribes: []string{"SPDXRef-Image"},
		Packages:          []spdxPackage{}, Relationships: []spdxRelationship{},
	}
	image := spdxPackage{
		SPDXID: "SPDXRef-Image", Name: s.Name, VersionInfo: s.Digest, DownloadLocation: "NOASSERTION", Purpose: "CONTAINER",
		LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION", CopyrightText: "NOASSERTION",
		ExternalRefs: []spdxExternalRef{{Category: "PACKAGE-MANAGER", Type: "purl", Locator: imagePurl(s)}},
		Comment:      strings.TrimSpace("nix build of " + c.Source.Installable + " (" + c.System + ", " + c.Builder + "): " + c.OutPath),
	}
	if h := s.hex(); len(h) == 64 {
		image.Checksums = []spdxChecksum{{Algorithm: "SHA256", Value: h}}
	}
	doc.Packages = append(doc.Packages, image)
	doc.Relationships = append(doc.Relationships, spdxRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image"})

	ids := map[string]string{}
	var extracted []string
	for _, x := range c.Components {
		id := spdxID(x)
		ids[x.Ref()] = id
		p := spdxPackage{
			SPDXID: id, Name: x.Name, VersionInfo: x.Version, DownloadLocation: "NOASSERTION",
			LicenseConcluded: "NOASSERTION", LicenseDeclared: "NOASSERTION", CopyrightText: "NOASSERTION",
			Description: x.Description, Purpose: "LIBRARY",
			ExternalRefs: []spdxExternalRef{{Category: "PACKAGE-MANAGER", Type: "purl", Locator: Purl(x)}},
		}
		if expr, refs := licenseExpression(x.Licenses); expr != "" {
			p.LicenseDeclared = expr
			extracted = append(extracted, refs...)
		}
		switch x.Type {
		case closure.Nix:
			p.Comment = x.StorePath
			if x.SourceURL != "" {
				p.DownloadLocation = x.SourceURL
			}
			p.Homepage = x.Homepage
			if len(x.NarHash) == 64 {
				// The NAR hash is the store path's content hash; SPDX has no field for "of a NAR".
				p.Checksums = []spdxChecksum{{Algorithm: "SHA256", Value: x.NarHash}}
			}
		case closure.Golang:
			// The purl names the module and version; where it was downloaded from is the
			// builder's proxy setting, which the binary does not record.
			p.Comment = "Go module compiled into " + x.In + "/" + x.Binary
		}
		doc.Packages = append(doc.Packages, p)
		doc.Relationships = append(doc.Relationships, spdxRelationship{"SPDXRef-Image", "CONTAINS", id})
	}
	for _, x := range c.Components {
		switch x.Type {
		case closure.Nix:
			for _, r := range x.References {
				if rid, ok := ids[r]; ok {
					doc.Relationships = append(doc.Relationships, spdxRelationship{ids[x.Ref()], "DEPENDS_ON", rid})
				}
			}
		case closure.Golang:
			doc.Relationships = append(doc.Relationships, spdxRelationship{ids[x.In], "DEPENDS_ON", ids[x.Ref()]})
		}
	}
	slices.Sort(extracted)
	for _, ref := range slices.Compact(extracted) {
		doc.Extracted = append(doc.Extracted, spdxExtracted{LicenseID: ref, Name: strings.TrimPrefix(ref, "LicenseRef-nixpkgs-"),
			ExtractedText: "A licence nixpkgs names " + strings.TrimPrefix(ref, "LicenseRef-nixpkgs-") + " without an SPDX identifier."})
	}
	return json.MarshalIndent(doc, "", "  ")
}

// spdxID is a stable SPDX identifier of a component: its readable name and a short hash of
// its reference, in the characters SPDX allows.
func spdxID(x closure.Component) string {
	h := sha256.Sum256([]byte(x.Ref()))
	kind := "nix"
	if x.Type == closure.Golang {
		kind = "go"
	}
	return "SPDXRef-" + kind + "-" + strings.Trim(notIDChar.ReplaceAllString(x.Name, "-"), "-") + "-" + hex.EncodeToString(h[:6])
}
