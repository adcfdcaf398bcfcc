package container

import (
	"strings"
	"testing"
)

// A container's host name is its name where that is a valid host name, so the init's status page
// names it; a name no resolver would take (Docker allows _ and .) leaves the engine's default.
func TestHostnameIsTheNameWhereValid(t *testing.T) {
	for name, want := range map[string]string{
		"nixify-health-check":   "nixify-health-check",
		"app1":                  "app1",
		"my_app":                "",
		"a.b":                   "",
		"-x":                    "",
		strings.Repeat("a", 63): strings.Repeat("a", 63),
		strings.Repeat("a", 64): "",
	} {
		if got := hostname(name); got != want {
			t.Errorf("hostname(%q) = %q, want %q", name, got, want)
		}
	}
}
