package info

import (
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/iostreams"
)

// The text view printed an image's environment whole, a password baked into the image included.
// A key that looks secret shows its name only; the others are whole.
func TestRenderHidesSecretEnvValues(t *testing.T) {
	io, _, out, _ := iostreams.Test()
	render(io, Report{Images: []*image.Info{{Source: "x.tar", Env: []string{"POSTGRES_PASSWORD=hunter2", "TZ=UTC"}}}})
	if s := out.String(); strings.Contains(s, "hunter2") || !strings.Contains(s, "POSTGRES_PASSWORD=…") || !strings.Contains(s, "TZ=UTC") {
		t.Fatalf("env shown as:\n%s", s)
	}
}
