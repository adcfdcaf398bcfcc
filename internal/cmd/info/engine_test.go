package info

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/image/imagetest"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/testpeer"
)

// jsonImage is the part of `info -o json` these tests read, with the field names scripts use.
type jsonImage struct {
	Source       string            `json:"source"`
	Kind         string            `json:"kind"`
	FiledUnder   string            `json:"filedUnder"`
	Architecture string            `json:"architecture"`
	OS           string            `json:"os"`
	ConfigDigest string            `json:"configDigest"`
	RepoTags     []string          `json:"repoTags"`
	Entrypoint   []string          `json:"entrypoint"`
	Labels       map[string]string `json:"labels"`
	Layers       []struct {
		Digest     string   `json:"digest"`
		DiffID     string   `json:"diffId"`
		StorePaths []string `json:"storePaths"`
	} `json:"layers"`
	Warnings []string `json:"warnings"`
}

func infoJSON(t *testing.T, o Options) jsonImage {
	t.Helper()
	io, _, out, _ := iostreams.Test()
	io.Format = iostreams.JSON
	o.IO = io
	if err := infoRun(context.Background(), &o); err != nil {
		t.Fatalf("info %q: %v", o.Source, err)
	}
	var rep struct {
		Images []jsonImage `json:"images"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Images) != 1 {
		t.Fatalf("info %q -o json: %v: %s", o.Source, err, out)
	}
	return rep.Images[0]
}

// newEngine connects the way the CLI's factory does: a fresh connection per command, which the
// command closes.
func newEngine() (engine.Engine, error) {
	ep, err := engine.ResolveEndpoint("", os.Getenv)
	if err != nil {
		return nil, err
	}
	return engine.New(ep)
}

// TestInfoOnEngineImage loads a Nix-shaped archive into the real Docker engine and describes it by
// name:tag and by image ID: what the engine hands back through `docker save` must be the image
// that was loaded.
func TestInfoOnEngineImage(t *testing.T) {
	eng := testpeer.Engine(t)
	ctx := context.Background()
	nonce := fmt.Sprint(time.Now().UnixNano())
	labels := map[string]string{
		"org.opencontainers.image.source":      "https://github.com/nixify/nixify",
		"org.opencontainers.image.revision":    "0123456789abcdef",
		"org.opencontainers.image.description": "info engine test",
		"org.opencontainers.image.licenses":    "MIT",
		"nixify.test.nonce":                    nonce, // a config, and so an image ID, of this test alone
	}
	tag := "nixify-info-test:" + nonce
	p := filepath.Join(t.TempDir(), "image.tar")
	// arm64 on this host: the architecture shown must be the config's, not the engine's.
	w, err := imagetest.WriteFile(p, imagetest.Spec{Arch: "arm64", Layers: 3, RepoTag: tag, Labels: labels, Healthy: true})
	if err != nil {
		t.Fatal(err)
	}
	archive, err := imagetest.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if archive.ConfigDigest != w.ConfigDigest {
		t.Fatalf("archive config %s, written %s", archive.ConfigDigest, w.ConfigDigest)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := eng.ImageLoad(ctx, f, nil)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := eng.ImageRemove(context.Background(), tag); err != nil && !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("remove %s: %v", tag, err)
		}
	})
	if !slices.Contains(loaded, tag) {
		t.Fatalf("engine loaded %q, want %s", loaded, tag)
	}
	held, err := eng.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	if held.ID != archive.ConfigDigest {
		t.Fatalf("engine image ID %s, archive config %s", held.ID, archive.ConfigDigest)
	}

	for _, src := range []string{tag, held.ID, strings.TrimPrefix(held.ID, "sha256:")[:12]} {
		got := infoJSON(t, Options{Engine: newEngine, Source: src})
		if got.Source != src || got.Kind != string(image.FromEngine) || got.FiledUnder != "" {
			t.Errorf("%s: source %q kind %q filed under %q", src, got.Source, got.Kind, got.FiledUnder)
		}
		if got.ConfigDigest != archive.ConfigDigest || got.Architecture != "arm64" || got.OS != "linux" {
			t.Errorf("%s: config %s %s/%s, want %s linux/arm64", src, got.ConfigDigest, got.OS, got.Architecture, archive.ConfigDigest)
		}
		if len(got.Layers) != len(w.DiffIDs) {
			t.Fatalf("%s: %d layers, want %d", src, len(got.Layers), len(w.DiffIDs))
		}
		for i, l := range got.Layers {
			// The engine keeps the config, history included, byte for byte: each layer still names
			// the store path it holds.
			if l.DiffID != w.DiffIDs[i] || !slices.Equal(l.StorePaths, []string{w.StorePaths[i]}) {
				t.Errorf("%s: layer %d = %+v, want diff %s paths [%s]", src, i, l, w.DiffIDs[i], w.StorePaths[i])
			}
		}
		if !mapsEqual(got.Labels, labels) || !slices.Equal(got.Entrypoint, []string{"/bin/nixify-init"}) {
			t.Errorf("%s: labels %v entrypoint %q", src, got.Labels, got.Entrypoint)
		}
		if len(got.Warnings) != 0 {
			t.Errorf("%s: warnings %q on an image with every OCI label", src, got.Warnings)
		}
		if src == tag && !slices.Contains(got.RepoTags, tag) {
			t.Errorf("%s: repo tags %q", src, got.RepoTags)
		}
	}

	// The text view of the same image.
	io, _, out, _ := iostreams.Test()
	if err := infoRun(ctx, &Options{IO: io, Engine: newEngine, Source: tag}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"linux/arm64", archive.ConfigDigest, "layers (3)", "healthcheck", w.StorePaths[2], "org.opencontainers.image.licenses=MIT"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text view lacks %q:\n%s", want, out)
		}
	}

	// Gone from the engine: one line that says so, not a crash or an engine dump.
	if err := eng.ImageRemove(ctx, tag); err != nil {
		t.Fatal(err)
	}
	err = infoRun(ctx, &Options{IO: io, Engine: newEngine, Source: tag})
	if err == nil || !strings.Contains(err.Error(), "no image") || strings.Contains(err.Error(), "\n") {
		t.Errorf("removed image: %v", err)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
