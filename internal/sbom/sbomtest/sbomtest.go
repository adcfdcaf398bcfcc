// Package sbomtest checks documents against the official JSON schemas of CycloneDX 1.6 and SPDX
// 2.3, vendored unchanged in schema/ (see schema/README.md), with a maintained JSON-schema
// validator. Tests of every package that writes or reads back an SBOM use it.
package sbomtest

import (
	"bytes"
	"embed"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed schema/*.json
var files embed.FS

var schemaIDs = map[string]string{
	"http://cyclonedx.org/schema/bom-1.6.schema.json":  "bom-1.6.schema.json",
	"http://cyclonedx.org/schema/spdx.schema.json":     "spdx.schema.json",
	"http://cyclonedx.org/schema/jsf-0.82.schema.json": "jsf-0.82.schema.json",
	"http://spdx.org/rdf/terms/2.3":                    "spdx-2.3.schema.json",
}

var (
	once     sync.Once
	compiled map[string]*jsonschema.Schema
	initErr  error
)

func compile() {
	c := jsonschema.NewCompiler()
	c.AssertFormat() // date-time, iri-reference ... are checked, not only the shape
	for id, f := range schemaIDs {
		data, err := files.ReadFile("schema/" + f)
		if err != nil {
			initErr = err
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			initErr = fmt.Errorf("%s: %w", f, err)
			return
		}
		if err := c.AddResource(id, doc); err != nil {
			initErr = err
			return
		}
	}
	compiled = map[string]*jsonschema.Schema{}
	for format, id := range map[string]string{"cyclonedx": "http://cyclonedx.org/schema/bom-1.6.schema.json", "spdx": "http://spdx.org/rdf/terms/2.3"} {
		s, err := c.Compile(id)
		if err != nil {
			initErr = err
			return
		}
		compiled[format] = s
	}
}

// Validate checks doc against the schema of format: cyclonedx (1.6) or spdx (2.3).
func Validate(format string, doc []byte) error {
	once.Do(compile)
	if initErr != nil {
		return initErr
	}
	s, ok := compiled[format]
	if !ok {
		return fmt.Errorf("no schema for format %q", format)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(v)
}
