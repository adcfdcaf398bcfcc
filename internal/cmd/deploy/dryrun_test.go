package deploy

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/image/imagetest"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/record"
)

const someDigest = "sha256:0123456789012345678901234567890123456789012345678901234567890123"

// options are deploy's defaults as the flags give them, over a state directory of the test's own.
func options(t *testing.T, ios *iostreams.IOStreams, edit func(*config.Config)) *Options {
	dir := t.TempDir()
	cfg := config.Config{Container: "nixify-health-check", StateDir: dir}
	if edit != nil {
		edit(&cfg)
	}
	return &Options{IO: ios, Config: func() (*config.Loaded, error) { return &config.Loaded{Config: cfg}, nil },
		StorageSize: "10Gi", Startup: 10 * time.Minute, Timeout: time.Minute, RequestTimeout: 5 * time.Second, Wait: true, Poll: 200 * time.Millisecond,
		// No kubeconfig anywhere unless a test gives one.
		Kubeconfig: filepath.Join(dir, "no-kubeconfig")}
}

func TestDryRunPrintsTheLastPushByDigest(t *testing.T) {
	ios, _, out, errOut := iostreams.Test()
	ios.Format = iostreams.YAML
	o := options(t, ios, func(c *config.Config) { c.Publish = []config.Publish{{Service: "redis"}} })
	l, _ := o.Config()
	record.Store{Dir: l.Config.StateDir}.SavePush(record.Push{Repo: "127.0.0.1:5000/o/n", Index: someDigest,
		Images: map[arch.Arch]string{arch.X86_64: someDigest, arch.AArch64: someDigest}, Tags: []string{"latest"}})
	o.DryRun = true
	if err := deployRun(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	y := out.String()
	for _, want := range []string{"image: 127.0.0.1:5000/o/n@" + someDigest, "kind: StatefulSet", "name: nixify-health-check-redis",
		"- amd64\n", "- arm64\n", "kubectl create secret generic nixify-health-check"} {
		if !strings.Contains(y, want) {
			t.Errorf("no %q in:\n%s", want, y)
		}
	}
	if strings.Contains(y, "kind: Secret") || strings.Contains(y, "namespace:") || errOut.Len() != 0 {
		t.Errorf("a Secret, a namespace nobody asked for or a note on stderr (%q) in:\n%s", errOut, y)
	}
}

func TestNeverPushedIsOneLine(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	o := options(t, ios, nil)
	err := deployRun(context.Background(), o)
	if cli.Code(err) != cli.ExitFailure || !strings.Contains(err.Error(), "no image was pushed") || !strings.Contains(cli.Hint(err), "nixify push") {
		t.Fatalf("never pushed: %v (exit %d, hint %q)", err, cli.Code(err), cli.Hint(err))
	}
}

func TestImageTagResolvesToItsDigest(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo := strings.TrimPrefix(srv.URL, "http://") + "/o/n"
	p := filepath.Join(t.TempDir(), "img.tar")
	_, err := imagetest.WriteFile(p, imagetest.Spec{Arch: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	set, err := imagetest.OpenSet(p)
	if err != nil {
		t.Fatal(err)
	}
	ref := mustRef(t, repo+":v1")
	if err := remote.Write(ref, set.Images[0].V1); err != nil {
		t.Fatal(err)
	}
	digest, _ := set.Images[0].V1.Digest()
	ios, _, out, _ := iostreams.Test()
	o := options(t, ios, nil)
	o.DryRun, o.Image = true, repo+":v1"
	if err := deployRun(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "image: "+repo+"@"+digest.String()+"\n") || !strings.Contains(out.String(), "- arm64\n") || strings.Contains(out.String(), ":v1") {
		t.Errorf("tag not resolved to %s:\n%s", digest, out)
	}
	// A tag the registry lacks, and a registry that is not there.
	o.Image = repo + ":nope"
	if err := deployRun(context.Background(), o); cli.Code(err) != cli.ExitFailure || strings.Contains(err.Error(), "\n") {
		t.Errorf("missing tag: %v (exit %d)", err, cli.Code(err))
	}
	o.Image = "127.0.0.1:1/o/n:v1"
	if err := deployRun(context.Background(), o); cli.Code(err) != cli.ExitUnavailable {
		t.Errorf("no registry: %v (exit %d)", err, cli.Code(err))
	}
}

func TestHostileFlagsAreRefusedFirst(t *testing.T) {
	for _, edit := range []func(*Options){
		func(o *Options) { o.Namespace = "Kube System" },
		func(o *Options) { o.StorageSize = "lots" },
		func(o *Options) { o.StorageSize = "-1Gi" },
		func(o *Options) { o.CPU = "2 cores" },
		func(o *Options) { o.Memory = "0" },
		func(o *Options) { o.StorageClass = "a/b" },
		func(o *Options) { o.Env = []string{"=x"} },
		func(o *Options) { o.Env = []string{"REDIS_PASSWORD=short"} },
		func(o *Options) { o.Env = []string{"NIXIFY_SERVICES=,"} },
		func(o *Options) { o.Timeout = 0 },
		func(o *Options) { o.Startup = time.Hour * 48 },
		func(o *Options) { o.Image = "UPPER/Case:tag" },
	} {
		ios, _, _, _ := iostreams.Test()
		o := options(t, ios, nil)
		edit(o)
		err := deployRun(context.Background(), o)
		if cli.Code(err) != cli.ExitUsage || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "short") {
			t.Errorf("%+v: %v (exit %d)", o, err, cli.Code(err))
		}
	}
	ios, _, _, _ := iostreams.Test()
	o := options(t, ios, func(c *config.Config) { c.Container = "Not_A_Name" })
	if err := deployRun(context.Background(), o); cli.Code(err) != cli.ExitUsage || !strings.Contains(err.Error(), "--name") {
		t.Errorf("bad name: %v", err)
	}
}

func TestYAMLOnlyWithDryRun(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	ios.Format = iostreams.YAML
	o := options(t, ios, nil)
	if err := deployRun(context.Background(), o); cli.Code(err) != cli.ExitUsage || !strings.Contains(err.Error(), "--dry-run") {
		t.Errorf("-o yaml without --dry-run: %v", err)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestNoKubeconfigAnywhere: KUBECONFIG naming a file that is not there, as on a machine that never
// had a cluster: one line saying where it looked, exit 2, before any cluster is asked.
func TestNoKubeconfigAnywhere(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "config")
	t.Setenv("KUBECONFIG", missing)
	ios, _, _, _ := iostreams.Test()
	o := options(t, ios, nil)
	o.Kubeconfig, o.Image = "", "127.0.0.1:5000/o/n@"+someDigest
	err := deployRun(context.Background(), o)
	if cli.Code(err) != cli.ExitUsage || err.Error() != "no kubeconfig: "+missing+" does not exist" || !strings.Contains(cli.Hint(err), "KUBECONFIG") {
		t.Errorf("%v (exit %d, hint %q)", err, cli.Code(err), cli.Hint(err))
	}
}
