package nix

import (
	"slices"
	"testing"
)

// Nix 2.8 writes experimental-features as numbers of an internal enum in JSON: those must read as
// unknown (nil), not as "no features", or flakes from NIX_CONFIG look disabled.
func TestParseSettings(t *testing.T) {
	s, err := ParseSettings([]byte(`{"system":{"value":"x86_64-linux"},"extra-platforms":{"value":["aarch64-linux"]},
		"builders":{"value":""},"build-users-group":{"value":"nixbld"},"experimental-features":{"value":[2,4]},"substituters":{"value":["file:///a","https://b"]}}`))
	if err != nil || s.System != "x86_64-linux" || !slices.Equal(s.Substituters, []string{"file:///a", "https://b"}) || !slices.Equal(s.ExtraPlatforms, []string{"aarch64-linux"}) ||
		s.BuildUsersGroup != "nixbld" || s.ExperimentalFeatures != nil {
		t.Fatalf("ParseSettings = %+v, %v", s, err)
	}
	s, err = ParseSettings([]byte(`{"extra-platforms":{"value":"aarch64-linux i686-linux"},"experimental-features":{"value":["flakes","nix-command"]}}`))
	if err != nil || !slices.Equal(s.ExtraPlatforms, []string{"aarch64-linux", "i686-linux"}) || !slices.Equal(s.ExperimentalFeatures, []string{"flakes", "nix-command"}) {
		t.Fatalf("ParseSettings = %+v, %v", s, err)
	}
	if _, err := ParseSettings([]byte("nix: not json")); err == nil {
		t.Fatal("output that is not JSON was accepted")
	}
}
