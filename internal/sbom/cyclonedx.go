package sbom

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/nixify/nixify/internal/closure"
)

// CycloneDX 1.6 JSON, the part of it nixify writes.
type cdxBOM struct {
	BOMFormat    string          `json:"bomFormat"`
	SpecVersion  string          `json:"specVersion"`
	SerialNumber string          `json:"serialNumber"`
	Version      int             `json:"version"`
	Metadata     cdxMetadata     `json:"metadata"`
	Components   []cdxComponent  `json:"components"`
	Dependencies []cdxDependency `json:"dependencies"`
}

type cdxMetadata struct {
	Timestamp  string        `json:"timestamp,omitempty"`
	Tools      cdxTools      `json:"tools"`
	Component  cdxComponent  `json:"component"`
	Properties []cdxProperty `json:"properties,omitempty"`
}

type cdxTools struct {
	Components []cdxComponent `json:"components"`
}

type cdxComponent struct {
	Type               string           `json:"type"`
	BOMRef             string           `json:"bom-ref,omitempty"`
	Name               string           `json:"name"`
	Version            string           `json:"version,omitempty"`
	Description        string           `json:"description,omitempty"`
	Hashes             []cdxHash        `json:"hashes,omitempty"`
	Licenses           []cdxLicense     `json:"licenses,omitempty"`
	Purl               string           `json:"purl,omitempty"`
	ExternalReferences []cdxExternalRef `json:"externalReferences,omitempty"`
	Properties         []cdxProperty    `json:"properties,omitempty"`
}

type cdxHash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

type cdxLicense struct {
	Expression string `json:"expression"`
}

type cdxExternalRef struct {
	Type    string    `json:"type"`
	URL     string    `json:"url"`
	Comment string    `json:"comment,omitempty"`
	Hashes  []cdxHash `json:"hashes,omitempty"`
}

type cdxProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type cdxDependency struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

var cdxAlg = map[string]string{"sha256": "SHA-256", "sha512": "SHA-512", "sha1": "SHA-1", "md5": "MD5"}

// CycloneDXJSON writes the CycloneDX 1.6 bill of materials of the image: the image as the
// metadata's component (subject), every store path and Go module as a component with its purl,
// and the dependency graph (the image holds its top-level store paths; a store path depends on
// the store paths it refers to and on the Go modules compiled into its binaries).
func CycloneDXJSON(c *closure.Closure, s Subject) ([]byte, error) {
	bom := cdxBOM{
		BOMFormat: "CycloneDX", SpecVersion: "1.6", Version: 1,
		SerialNumber: "urn:uuid:" + uuidFrom("cyclonedx", s.Name, s.Digest, c.OutPath, toolVersion()),
		Components:   []cdxComponent{}, Dependencies: []cdxDependency{},
	}
	if !c.FinishedAt.IsZero() {
		bom.Metadata.Timestamp = c.FinishedAt.UTC().Format(time.RFC3339)
	}
	bom.Metadata.Tools.Components = []cdxComponent{{Type: "application", Name: "nixify", Version: toolVersion()}}
	image := cdxComponent{Type: "container", BOMRef: imageRef, Name: s.Name, Version: s.Digest, Purl: imagePurl(s)}
	if h := s.hex(); len(h) == 64 {
		image.Hashes = []cdxHash{{Alg: "SHA-256", Content: h}}
	}
	image.Properties = props("nixify:arch", c.Arch, "nixify:system", c.System, "nix:out_path", c.OutPath, "nix:drv_path", c.DrvPath,
		"nixify:config_digest", c.ConfigDigest, "nixify:flake", c.Source.Flake, "nixify:flake_revision", c.Source.Revision,
		"nixify:nixpkgs_revision", c.Source.NixpkgsRevision, "nixify:builder", c.Builder)
	bom.Metadata.Component = image

	modsIn := map[string][]string{}
	for _, x := range c.Components {
		comp := cdxComponent{Type: "library", BOMRef: x.Ref(), Name: x.Name, Version: x.Version, Purl: Purl(x), Description: x.Description}
		if expr, _ := licenseExpression(x.Licenses); expr != "" {
			comp.Licenses = []cdxLicense{{Expression: expr}}
		}
		switch x.Type {
		case closure.Nix:
			if len(x.NarHash) == 64 {
				comp.Hashes = []cdxHash{{Alg: "SHA-256", Content: x.NarHash}}
			}
			if x.Homepage != "" {
				comp.ExternalReferences = append(comp.ExternalReferences, cdxExternalRef{Type: "website", URL: x.Homepage})
			}
			if x.SourceURL != "" {
				ref := cdxExternalRef{Type: "source-distribution", URL: x.SourceURL}
				if alg, ok := cdxAlg[x.SourceAlgo]; ok && x.SourceHash != "" {
					ref.Hashes = []cdxHash{{Alg: alg, Content: x.SourceHash}}
				}
				comp.ExternalReferences = append(comp.ExternalReferences, ref)
			}
			if hasBinaries(c, x.StorePath) {
				comp.Type = "application"
			}
			comp.Properties = props("nix:store_path", x.StorePath, "nix:drv_path", x.Deriver, "nix:nar_size", strconv.FormatInt(x.NarSize, 10))
		case closure.Golang:
			if x.Sum != "" {
				comp.Properties = props("golang:sum", x.Sum)
			}
			comp.Properties = append(comp.Properties, props("nix:store_path", x.In, "golang:binary", x.Binary)...)
			modsIn[x.In] = append(modsIn[x.In], x.Ref())
		}
		bom.Components = append(bom.Components, comp)
	}

	referred := map[string]bool{}
	for _, x := range c.Components {
		if x.Type != closure.Nix {
			continue
		}
		deps := append(append([]string{}, x.References...), modsIn[x.StorePath]...)
		for _, r := range x.References {
			referred[r] = true
		}
		bom.Dependencies = append(bom.Dependencies, cdxDependency{Ref: x.Ref(), DependsOn: deps})
	}
	top := []string{}
	for _, x := range c.Components {
		if x.Type == closure.Nix && !referred[x.StorePath] {
			top = append(top, x.Ref())
		}
	}
	bom.Dependencies = append([]cdxDependency{{Ref: imageRef, DependsOn: top}}, bom.Dependencies...)
	return json.MarshalIndent(bom, "", "  ")
}

const imageRef = "image"

// hasBinaries says whether a store path holds programs nixify read (Go binaries): those are
// applications, the rest libraries (CycloneDX's default for a dependency).
func hasBinaries(c *closure.Closure, storePath string) bool {
	for _, x := range c.Components {
		if x.Type == closure.Golang && x.In == storePath {
			return true
		}
	}
	return false
}

// props makes properties from name, value pairs, leaving out empty values.
func props(kv ...string) []cdxProperty {
	var out []cdxProperty
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			out = append(out, cdxProperty{Name: kv[i], Value: kv[i+1]})
		}
	}
	return out
}
