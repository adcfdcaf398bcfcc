package sbom

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/build"
	"github.com/nixify/nixify/internal/build/buildtest"
	"github.com/nixify/nixify/internal/closure"
)

// The closure of a real nix build (the test flake's Nix-shaped image with a Go binary) gives
// documents the official schemas accept, naming its store paths and Go modules.
func TestRealBuildDocumentsAreValid(t *testing.T) {
	n := buildtest.Nix(t)
	ref, dir := buildtest.Flake(t)
	buildtest.GoBinary(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := build.Run(ctx, n, build.Options{Flake: ref, Attr: buildtest.App, Archs: []arch.Arch{arch.X86_64}, StateDir: t.TempDir(), HostSystem: "x86_64-linux"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := closure.Load(res[0].Record.Closure)
	if err != nil {
		t.Fatal(err)
	}
	s := Subject{Name: "nixify-layered-test", Digest: res[0].Record.ConfigDigest}
	for _, format := range []string{CycloneDX, SPDX} {
		doc, err := Generate(format, c, s)
		if err != nil {
			t.Fatal(err)
		}
		if err := validator(t, format)(doc); err != nil {
			t.Errorf("%s: %v", format, err)
		}
		for _, want := range []string{"pkg:nix/libfoo@1.0", "pkg:nix/app@2.0", "pkg:golang/github.com/spf13/pflag@v1.0.10", "https://example.org/libfoo-1.0.tar", "MIT", strings.TrimPrefix(s.Digest, "sha256:")} {
			if !strings.Contains(string(doc), want) {
				t.Errorf("%s lacks %s", format, want)
			}
		}
	}
}
