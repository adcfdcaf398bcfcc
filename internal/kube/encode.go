package kube

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// Fields is an object as the API server is sent it: its typed form less what a client never sets
// (status, creationTimestamp), which the typed structs would carry as zero values and an apply
// would then claim.
func (o Object) Fields() (map[string]any, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o.Obj)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", o.Kind, o.Name, err)
	}
	clean(m)
	return m, nil
}

// clean drops status and every creationTimestamp: null, at any depth (the claim templates have
// their own metadata).
func clean(m map[string]any) {
	delete(m, "status")
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any:
			if k == "metadata" {
				delete(v, "creationTimestamp")
			}
			clean(v)
			if len(v) == 0 && (k == "metadata" || k == "resources") {
				delete(m, k)
			}
		case []any:
			for _, e := range v {
				if em, ok := e.(map[string]any); ok {
					clean(em)
				}
			}
		}
	}
}

// JSON is the object as the body of a server-side apply.
func (o Object) JSON() ([]byte, error) {
	m, err := o.Fields()
	if err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// WriteYAML writes the objects as one YAML stream, each after "---", with comments first (each
// line of comment prefixed with "# ").
func WriteYAML(w io.Writer, comments []string, objs []Object) error {
	var b strings.Builder
	for _, c := range comments {
		for _, l := range strings.Split(c, "\n") {
			b.WriteString(strings.TrimRight("# "+l, " ") + "\n")
		}
	}
	for _, o := range objs {
		m, err := o.Fields()
		if err != nil {
			return err
		}
		y, err := yaml.Marshal(m)
		if err != nil {
			return fmt.Errorf("%s %s: %w", o.Kind, o.Name, err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
