package deploy

// These tests run deploy against a real control plane (etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler, internal/testpeer's Kube) with no node: the
// StatefulSet controller makes and replaces the pod, which nothing runs. Run them with
// go test ./internal/cmd/deploy/ (the kube-peer binary is built by .ci/run).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/kube"
	"github.com/nixify/nixify/internal/record"
	"github.com/nixify/nixify/internal/testpeer"
)

func TestMain(m *testing.M) { os.Exit(testpeer.KubeMain(m)) }

func digest(n int) string { return fmt.Sprintf("sha256:%064d", n) }

// clusterOptions are options aimed at namespace ns of the shared control plane, deploying the
// image a recorded push of digest(n) names.
func clusterOptions(t *testing.T, k *testpeer.Kube, ns string, n int, publish ...config.Publish) (*Options, *iostreams.IOStreams) {
	ios, _, _, _ := iostreams.Test()
	o := options(t, ios, func(c *config.Config) { c.Publish = publish })
	o.Kubeconfig, o.Namespace, o.Wait = k.Kubeconfig, ns, false
	push(t, o, n)
	return o, ios
}

func push(t *testing.T, o *Options, n int) {
	l, _ := o.Config()
	if err := (record.Store{Dir: l.Config.StateDir}).SavePush(record.Push{Repo: "127.0.0.1:5000/o/nixify", Index: digest(n),
		Images: map[arch.Arch]string{arch.X86_64: digest(n + 1)}}); err != nil {
		t.Fatal(err)
	}
}

func admin(t *testing.T, k *testpeer.Kube, ns string) *kube.Client {
	c, err := kube.Connect(kube.Target{Kubeconfig: k.Kubeconfig, Namespace: ns, RequestTimeout: 10 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDeployOnARealAPIServer(t *testing.T) {
	k := testpeer.SharedKube(t)
	ns := k.Namespace(t)
	c := admin(t, k, ns)
	ctx := context.Background()
	o, _ := clusterOptions(t, k, ns, 1, config.Publish{Service: "postgres"}, config.Publish{Service: "redis", HostPort: 16379})

	// The server dry run validates everything and writes nothing.
	o.ServerDryRun = true
	if err := deployRun(ctx, o); err != nil {
		t.Fatal(err)
	}
	var ss appsv1.StatefulSet
	if err := c.Apps.Get().Namespace(ns).Resource("statefulsets").Name("nixify-health-check").Do(ctx).Into(&ss); !apierrors.IsNotFound(err) {
		t.Fatalf("the server dry run wrote the StatefulSet: %v", err)
	}
	if s, _ := c.ReadSecret(ctx, "nixify-health-check"); s != nil {
		t.Fatal("the server dry run wrote the Secret")
	}

	// The first deploy creates every object.
	o.ServerDryRun = false
	first := deployJSON(t, o)
	if len(first.Objects) != 6 || first.Secret != "generated" {
		t.Fatalf("first deploy: %+v", first)
	}
	for _, a := range first.Objects {
		if a.Action != kube.Created {
			t.Errorf("%s %s %s, want created", a.Kind, a.Name, a.Action)
		}
	}
	secret, err := c.ReadSecret(ctx, "nixify-health-check")
	if err != nil || len(secret) != len(kube.SecretKeys) || len(secret["POSTGRES_PASSWORD"]) != 26 {
		t.Fatalf("secret %d keys, %v", len(secret), err)
	}

	// A second deploy changes nothing: same resource versions (the StatefulSet's moves with the
	// controller's status writes: its generation, the version of its spec, stays).
	second := deployJSON(t, o)
	for i, a := range second.Objects {
		sameVersion := a.ResourceVersion == first.Objects[i].ResourceVersion || a.Kind == "StatefulSet"
		if a.Action != kube.Unchanged || !sameVersion || a.Generation != first.Objects[i].Generation {
			t.Errorf("second deploy %s %s: %s rv %s (was %s) generation %d", a.Kind, a.Name, a.Action, a.ResourceVersion, first.Objects[i].ResourceVersion, a.Generation)
		}
	}
	if second.Secret != "kept" {
		t.Errorf("second deploy's Secret: %s", second.Secret)
	}

	// The controller made the pod of the first revision.
	rev1 := waitPod(t, c, "", 2*time.Minute)

	// A deploy of another image rolls the pod: a new update revision, and the controller replaces
	// the pod with one of that revision.
	push(t, o, 7)
	third := deployJSON(t, o)
	if third.Objects[len(third.Objects)-1].Action != kube.Configured {
		t.Fatalf("changed image: %+v", third.Objects)
	}
	rev2 := waitPod(t, c, rev1, 2*time.Minute)
	var pod corev1.Pod
	c.Core.Get().Namespace(ns).Resource("pods").Name("nixify-health-check-0").Do(ctx).Into(&pod)
	if rev2 == rev1 || !strings.HasSuffix(pod.Spec.Containers[0].Image, digest(7)) {
		t.Errorf("pod of revision %s (was %s) runs %s", rev2, rev1, pod.Spec.Containers[0].Image)
	}

	// The Secret survived every deploy byte for byte.
	after, _ := c.ReadSecret(ctx, "nixify-health-check")
	for _, key := range kube.SecretKeys {
		if string(after[key]) != string(secret[key]) {
			t.Errorf("%s changed across deploys", key)
		}
	}
}

// waitPod waits until the StatefulSet's pod exists with the update revision, other than not, and
// returns that revision.
func waitPod(t *testing.T, c *kube.Client, not string, limit time.Duration) string {
	t.Helper()
	var r kube.Rollout
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		var err error
		r, err = c.Status(context.Background(), "nixify-health-check")
		if err == nil && r.Pod != nil && r.Pod.Phase != "Terminating" && r.Pod.Revision == r.UpdateRevision && r.UpdateRevision != not {
			return r.UpdateRevision
		}
	}
	t.Fatalf("no pod of a revision other than %q within %s: %+v %+v", not, limit, r, r.Pod)
	return ""
}

func deployJSON(t *testing.T, o *Options) Result {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	ios.Format = iostreams.JSON
	o.IO = ios
	if err := deployRun(context.Background(), o); err != nil {
		t.Fatalf("deploy: %v (%s)", err, errOut)
	}
	var res Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return res
}

// TestRolloutWaitHasADeadline: with no node, the pod never runs: the wait ends at --timeout with
// exit 3, naming where the pod stands, and what was applied stays applied.
func TestRolloutWaitHasADeadline(t *testing.T) {
	k := testpeer.SharedKube(t)
	ns := k.Namespace(t)
	o, _ := clusterOptions(t, k, ns, 3)
	o.Wait, o.Timeout = true, 3*time.Second
	began := time.Now()
	err := deployRun(context.Background(), o)
	if cli.Code(err) != cli.ExitUnhealthy || !strings.Contains(err.Error(), "not ready within 3s") || time.Since(began) > 30*time.Second {
		t.Fatalf("wait without a node: %v (exit %d) after %s", err, cli.Code(err), time.Since(began))
	}
	// The health table's port-forward, to a pod no kubelet runs: the API server's refusal in one
	// line, in time (the whole path is exercised only where a node runs the pod).
	c := admin(t, k, ns)
	fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if url, err := c.ForwardHealth(fctx, "nixify-health-check-0"); err == nil || fctx.Err() != nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("port-forward to a pod that does not run: %q, %v", url, err)
	} else {
		t.Logf("port-forward: %v", err)
	}
	// Interrupted: the documented 130 (context.Canceled), nothing more.
	ctx, cancel := context.WithCancel(context.Background())
	o.Timeout = time.Minute
	time.AfterFunc(time.Second, cancel)
	if err := deployRun(ctx, o); cli.Code(err) != cli.ExitInterrupted {
		t.Errorf("interrupted wait: %v (exit %d)", err, cli.Code(err))
	}
}

func TestBadClusters(t *testing.T) {
	k := testpeer.SharedKube(t)
	ns := k.Namespace(t)
	c := admin(t, k, ns)
	dir := t.TempDir()
	kubeconfig := func(name, server string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"Config","current-context":"x",
"clusters":[{"name":"x","cluster":{"server":%q,"insecure-skip-tls-verify":true}}],
"users":[{"name":"x","user":{"token":"t"}}],"contexts":[{"name":"x","context":{"cluster":"x","user":"x"}}]}`, server)), 0o600)
		return p
	}
	for _, tc := range []struct {
		name string
		edit func(*Options)
		code int
		want string
	}{
		{"no kubeconfig", func(o *Options) { o.Kubeconfig = filepath.Join(dir, "missing") }, cli.ExitUsage, "kubeconfig"},
		{"unknown context", func(o *Options) { o.Context = "prod" }, cli.ExitUsage, `no context "prod"`},
		{"unreachable", func(o *Options) { o.Kubeconfig = kubeconfig("closed", "https://127.0.0.1:1") }, cli.ExitUnavailable, "cannot connect"},
		{"silent", func(o *Options) {
			o.Kubeconfig, o.RequestTimeout = kubeconfig("silent", "https://"+testpeer.Silent(t)), time.Second
		}, cli.ExitUnavailable, "did not answer in time"},
		{"no rights", func(o *Options) { o.Context = testpeer.KubeNoRightsContext }, cli.ExitFailure, "forbidden"},
		{"no such namespace", func(o *Options) { o.Namespace = "nowhere" }, cli.ExitFailure, "nowhere"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, _ := clusterOptions(t, k, ns, 5)
			tc.edit(o)
			began := time.Now()
			err := deployRun(context.Background(), o)
			if cli.Code(err) != tc.code || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%v (exit %d, hint %q), want exit %d and %q", err, cli.Code(err), cli.Hint(err), tc.code, tc.want)
			}
			t.Logf("exit %d: %v\n hint: %s", cli.Code(err), err, cli.Hint(err))
			if time.Since(began) > 20*time.Second {
				t.Errorf("took %s", time.Since(began))
			}
		})
	}
	// Nothing half-applied: the refused deploys left the namespace empty.
	for _, res := range []string{"secrets", "services"} {
		raw, err := c.Core.Get().Namespace(ns).Resource(res).Do(context.Background()).Raw()
		if err != nil || strings.Contains(string(raw), "nixify-health-check") {
			t.Errorf("%s after refused deploys: %v %s", res, err, raw)
		}
	}
}

// TestMissingSecretBesideData: a data volume claim without its Secret is refused, and nothing is
// written: the database on it keeps the passwords it started with.
func TestMissingSecretBesideData(t *testing.T) {
	k := testpeer.SharedKube(t)
	ns := k.Namespace(t)
	c := admin(t, k, ns)
	body := []byte(`{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data-nixify-health-check-0"},
"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}`)
	if err := c.Core.Post().Namespace(ns).Resource("persistentvolumeclaims").Body(body).SetHeader("Content-Type", "application/json").Do(context.Background()).Error(); err != nil {
		t.Fatal(err)
	}
	o, _ := clusterOptions(t, k, ns, 9)
	err := deployRun(context.Background(), o)
	if cli.Code(err) != cli.ExitFailure || !strings.Contains(err.Error(), "the Secret nixify-health-check is missing") {
		t.Fatalf("missing secret beside data: %v", err)
	}
	if s, _ := c.ReadSecret(context.Background(), "nixify-health-check"); s != nil {
		t.Error("a Secret was generated over existing data")
	}
	if errors.Is(err, context.Canceled) {
		t.Error("unexpected")
	}
}

// TestFieldOwnedByAnotherManager: someone scaled the StatefulSet with another tool (a field
// manager of its own owns spec.replicas now). deploy refuses in one line with --force-conflicts as
// the way out, writes nothing, and with it takes the field back.
func TestFieldOwnedByAnotherManager(t *testing.T) {
	k := testpeer.SharedKube(t)
	ns := k.Namespace(t)
	c := admin(t, k, ns)
	o, _ := clusterOptions(t, k, ns, 11)
	if err := deployRun(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	scale := []byte(`{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"nixify-health-check"},"spec":{"replicas":3}}`)
	force := "true"
	if err := c.Apps.Patch("application/apply-patch+yaml").Namespace(ns).Resource("statefulsets").Name("nixify-health-check").
		Param("fieldManager", "someone-else").Param("force", force).Body(scale).Do(context.Background()).Error(); err != nil {
		t.Fatal(err)
	}
	push(t, o, 12)
	err := deployRun(context.Background(), o)
	if cli.Code(err) != cli.ExitFailure || !strings.Contains(err.Error(), "someone-else") || !strings.Contains(cli.Hint(err), "--force-conflicts") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("conflict: %v (exit %d, hint %q)", err, cli.Code(err), cli.Hint(err))
	}
	var ss appsv1.StatefulSet
	c.Apps.Get().Namespace(ns).Resource("statefulsets").Name("nixify-health-check").Do(context.Background()).Into(&ss)
	if strings.HasSuffix(ss.Spec.Template.Spec.Containers[0].Image, digest(12)) {
		t.Error("the refused deploy changed the image")
	}
	o.ForceConflicts = true
	if err := deployRun(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	c.Apps.Get().Namespace(ns).Resource("statefulsets").Name("nixify-health-check").Do(context.Background()).Into(&ss)
	if *ss.Spec.Replicas != 1 || !strings.HasSuffix(ss.Spec.Template.Spec.Containers[0].Image, digest(12)) {
		t.Errorf("--force-conflicts: replicas %d, image %s", *ss.Spec.Replicas, ss.Spec.Template.Spec.Containers[0].Image)
	}
}
