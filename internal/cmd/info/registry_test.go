package info

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/image/imagetest"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/publish"
	"github.com/nixify/nixify/internal/testpeer"
)

// TestInfoNamesWhatIsMissing: a typo'd file name, a tag the registry does not have and a registry
// that is not there each get their own line and exit code, not the engine's hint.
func TestInfoNamesWhatIsMissing(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/o/n"
	pushed(t, repo)
	for _, c := range []struct {
		source string
		code   int
		want   string
	}{
		{"My.tar", cli.ExitUsage, "My.tar: no such file"},
		{"./dir/img.tar.gz", cli.ExitUsage, "no such file"},
		{repo + ":nope", cli.ExitFailure, "no tag nope in " + repo},
		{testpeer.Refused(t) + "/o/n:latest", cli.ExitUnavailable, "cannot connect to"},
	} {
		ios, _, _, _ := iostreams.Test()
		err := infoRun(context.Background(), &Options{IO: ios, Source: c.source})
		if err == nil || cli.Code(err) != c.code || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "map[") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: exit %d, err %q; want exit %d and %q", c.source, cli.Code(err), err, c.code, c.want)
		}
		if strings.Contains(cli.Hint(err), "doctor") {
			t.Errorf("%s: engine hint %q", c.source, cli.Hint(err))
		}
	}
}

// TestInfoReadsAnnotationsForLabels: push fills org.opencontainers.image.revision in as a manifest
// annotation; info must not then warn that the label is missing.
func TestInfoReadsAnnotationsForLabels(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/o/n"
	pushed(t, repo)
	ios, _, out, _ := iostreams.Test()
	ios.Format = iostreams.JSON
	if err := infoRun(context.Background(), &Options{IO: ios, Source: repo + ":latest"}); err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	for _, img := range rep.Images {
		if img.Annotations["org.opencontainers.image.revision"] == "" {
			t.Errorf("no revision annotation: %+v", img.Annotations)
		}
		for _, w := range img.Warnings {
			if strings.Contains(w, "revision") {
				t.Errorf("warning %q although the manifest carries the revision", w)
			}
		}
	}
}

// pushed pushes a one-architecture image without OCI labels to repo, tagged latest.
func pushed(t *testing.T, repo string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.tar")
	if _, err := imagetest.WriteFile(p, imagetest.Spec{Arch: "amd64"}); err != nil {
		t.Fatal(err)
	}
	img, err := imagetest.Open(p, image.WithTempDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	pub, err := publish.New(repo, publish.WithLatest(true))
	if err != nil {
		t.Fatal(err)
	}
	rev := &publish.Revision{Branch: "main", Commit: "0123456789abcdef0123456789abcdef01234567", Default: true}
	plan, err := pub.Plan(context.Background(), publish.Request{Images: []publish.Image{{Arch: "x86_64", Image: img.V1}}, Rev: rev, Built: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Push(context.Background(), plan, nil); err != nil {
		t.Fatal(err)
	}
}
