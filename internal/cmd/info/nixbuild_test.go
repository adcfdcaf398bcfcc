package info

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/build"
	"github.com/nixify/nixify/internal/build/buildtest"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/nix"
	"github.com/nixify/nixify/internal/record"
)

// TestInfoOnNixBuilds builds a Nix-shaped image with the real nix (a tarball, then a stream
// script writing it) and describes each from the build record and by its path: every layer must
// name the store path Nix put in it, and the config must be the one the build recorded.
func TestInfoOnNixBuilds(t *testing.T) {
	n := buildtest.Nix(t)
	ref, _ := buildtest.Flake(t)
	state := t.TempDir()
	ctx := context.Background()

	cfg := func() (*config.Loaded, error) {
		return &config.Loaded{Config: config.Config{StateDir: state, Architectures: arch.All}}, nil
	}

	var tarball record.Build
	for _, tc := range []struct {
		attr string
		kind record.Kind
		from image.Kind
	}{
		{buildtest.Tarball, record.Tarball, image.FromArchive},
		{buildtest.Stream, record.Stream, image.FromStream},
	} {
		res, err := build.Run(ctx, n, build.Options{Flake: ref, Attr: tc.attr, Archs: []arch.Arch{arch.X86_64}, StateDir: state})
		if err != nil {
			t.Fatal(err)
		}
		b := res[0].Record
		if b.Kind != tc.kind || !strings.HasPrefix(b.ConfigDigest, "sha256:") {
			t.Fatalf("%s: record %+v", tc.attr, b)
		}
		if tc.kind == record.Tarball {
			tarball = b
		} else if b.ConfigDigest != tarball.ConfigDigest {
			t.Fatalf("the stream's config %s is not the tarball's %s", b.ConfigDigest, tarball.ConfigDigest)
		}
		want := closure(t, ctx, n, ref)

		for _, o := range []Options{
			{Config: cfg, Arch: "x86_64"},    // the last build, from the record in the state directory
			{Config: cfg},                    // every configured architecture: only x86_64 is built
			{Config: cfg, Source: b.OutPath}, // the store path itself (a stream script runs as the record names it)
		} {
			got := infoJSON(t, o)
			kind, filed := string(tc.from), ""
			if o.Source == "" {
				kind, filed = string(image.FromBuild), "x86_64"
			}
			if got.Kind != kind || got.FiledUnder != filed || !strings.Contains(got.Source, b.OutPath) {
				t.Errorf("%s %q: kind %q filed under %q source %q", tc.attr, o.Source, got.Kind, got.FiledUnder, got.Source)
			}
			if got.ConfigDigest != b.ConfigDigest || got.Architecture != "amd64" || got.OS != "linux" {
				t.Errorf("%s %q: config %s %s/%s, record %s", tc.attr, o.Source, got.ConfigDigest, got.OS, got.Architecture, b.ConfigDigest)
			}
			if !slices.Contains(got.RepoTags, "nixify-layered-test:amd64") {
				t.Errorf("%s %q: repo tags %q", tc.attr, o.Source, got.RepoTags)
			}
			var paths []string
			for i, l := range got.Layers {
				if len(l.StorePaths) != 1 || !strings.HasPrefix(l.DiffID, "sha256:") {
					t.Errorf("%s %q: layer %d = %+v, want one store path", tc.attr, o.Source, i, l)
				}
				paths = append(paths, l.StorePaths...)
			}
			if !slices.Equal(paths, want) {
				t.Errorf("%s %q: layers hold %q, Nix says the closure is %q", tc.attr, o.Source, paths, want)
			}
			if !slices.Contains(want, strings.TrimSuffix(strings.Join(got.Entrypoint, " "), "/bin/tool")) {
				t.Errorf("%s %q: entrypoint %q is not in the closure %q", tc.attr, o.Source, got.Entrypoint, want)
			}
		}
	}
}

// closure is the closure of the flake's tool package, sorted, as Nix reports it: the store paths
// the image was built from.
func closure(t *testing.T, ctx context.Context, n *nix.Nix, ref string) []string {
	t.Helper()
	cmd := n.Command(ctx, "path-info", "--recursive", ref+"#packages.x86_64-linux."+buildtest.Tool)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nix path-info: %v: %s", err, stderr.String())
	}
	paths := strings.Fields(string(out))
	slices.Sort(paths)
	if len(paths) != 2 {
		t.Fatalf("closure of tool: %q, want tool and greeting", paths)
	}
	return paths
}
