package testpeer

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/nixify/nixify/e2e/testimage"
)

func TestMain(m *testing.M) { os.Exit(KubeMain(m)) }

// The binary name the tests look for carries the release that tools/kube-peer links; .ci/run reads
// the same release from that go.mod, so the two must agree.
func TestKubeVersionMatchesTheWrapperModule(t *testing.T) {
	gomod, err := os.ReadFile("../../tools/kube-peer/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(gomod), "\tk8s.io/kubernetes "+KubeVersion+"\n") &&
		!strings.Contains(string(gomod), "require k8s.io/kubernetes "+KubeVersion+"\n") {
		t.Fatalf("tools/kube-peer/go.mod does not require k8s.io/kubernetes %s (KubeVersion)", KubeVersion)
	}
}

// kubeconfigUsers reads the kubeconfig the way a client would: the current context's cluster, and
// each context's token.
func kubeconfigUsers(t *testing.T, k *Kube) (server, current string, tokens map[string]string) {
	t.Helper()
	b, err := os.ReadFile(k.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Clusters []struct {
			Cluster struct {
				Server string `json:"server"`
				CA     []byte `json:"certificate-authority-data"`
			} `json:"cluster"`
		} `json:"clusters"`
		Users []struct {
			Name string `json:"name"`
			User struct {
				Token string `json:"token"`
			} `json:"user"`
		} `json:"users"`
		Contexts []struct {
			Name    string `json:"name"`
			Context struct {
				User string `json:"user"`
			} `json:"context"`
		} `json:"contexts"`
		Current string `json:"current-context"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Clusters) != 1 || string(cfg.Clusters[0].Cluster.CA) != string(k.CA) {
		t.Fatalf("kubeconfig clusters: %s", b)
	}
	users := map[string]string{}
	for _, u := range cfg.Users {
		users[u.Name] = u.User.Token
	}
	tokens = map[string]string{}
	for _, c := range cfg.Contexts {
		tokens[c.Name] = users[c.Context.User]
	}
	return cfg.Clusters[0].Cluster.Server, cfg.Current, tokens
}

func apply(t *testing.T, k *Kube, token, path string, obj map[string]any) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(obj)
	status, out, err := k.Do(token, http.MethodPatch, path+"?fieldManager=nixify-test", "application/apply-patch+yaml", body)
	if err != nil {
		t.Fatalf("apply %s: %v", path, err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("apply %s: %d %s", path, status, out)
	}
	return status, got
}

// The control plane is real: server-side apply stores objects for the administrator, RBAC refuses
// the user without rights, and the controller manager and scheduler act on a StatefulSet.
func TestKubeControlPlane(t *testing.T) {
	k := SharedKube(t)
	ns := k.Namespace(t)

	server, current, tokens := kubeconfigUsers(t, k)
	if server != k.Server || current != KubeAdminContext || tokens[KubeAdminContext] != k.AdminToken ||
		tokens[KubeNoRightsContext] != k.NoRightsToken || k.AdminToken == k.NoRightsToken {
		t.Fatalf("kubeconfig: server %s, current %s, tokens %v", server, current, tokens)
	}

	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "settings", "namespace": ns},
		"data":     map[string]any{"greeting": "hello"}}
	path := "/api/v1/namespaces/" + ns + "/configmaps/settings"
	status, got := apply(t, k, tokens[KubeAdminContext], path, cm)
	if status != http.StatusCreated || got["data"].(map[string]any)["greeting"] != "hello" {
		t.Fatalf("apply as admin: %d %v", status, got)
	}
	status, got = apply(t, k, tokens[KubeAdminContext], path, cm)
	if status != http.StatusOK {
		t.Fatalf("second apply as admin: %d %v", status, got)
	}
	status, got = apply(t, k, tokens[KubeNoRightsContext], path, cm)
	if status != http.StatusForbidden || got["reason"] != "Forbidden" {
		t.Fatalf("apply without rights: want 403 Forbidden, got %d %v", status, got)
	}

	labels := map[string]any{"app": "sleeper"}
	sts := map[string]any{"apiVersion": "apps/v1", "kind": "StatefulSet",
		"metadata": map[string]any{"name": "sleeper", "namespace": ns},
		"spec": map[string]any{
			"replicas": 1,
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{"containers": []any{map[string]any{
					"name": "sleeper", "image": "127.0.0.1:5000/sleeper@sha256:" + strings.Repeat("0", 64)}}},
			},
		}}
	if status, got := apply(t, k, k.AdminToken, "/apis/apps/v1/namespaces/"+ns+"/statefulsets/sleeper", sts); status != http.StatusCreated {
		t.Fatalf("apply StatefulSet: %d %v", status, got)
	}

	// The controller manager creates sleeper-0 and the scheduler decides on it: unschedulable when
	// the cluster has no node, bound when a test of the package added one (SharedKubeWithNode).
	deadline := time.Now().Add(2 * time.Minute)
	for {
		status, out, err := k.Do(k.AdminToken, http.MethodGet, "/api/v1/namespaces/"+ns+"/pods/sleeper-0", "", nil)
		var pod struct {
			Metadata struct {
				OwnerReferences []struct{ Kind, Name string } `json:"ownerReferences"`
			} `json:"metadata"`
			Status struct {
				Conditions []struct{ Type, Status, Reason string } `json:"conditions"`
			} `json:"status"`
		}
		if err == nil && status == http.StatusOK && json.Unmarshal(out, &pod) == nil {
			owners := pod.Metadata.OwnerReferences
			if len(owners) != 1 || owners[0].Kind != "StatefulSet" || owners[0].Name != "sleeper" {
				t.Fatalf("sleeper-0 is not owned by the StatefulSet: %s", out)
			}
			for _, c := range pod.Status.Conditions {
				if c.Type == "PodScheduled" && (c.Status == "True" || c.Reason == "Unschedulable") {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sleeper-0 that the scheduler decided on after 2 minutes: %d %s %v\n%s", status, out, err, k.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The node runs Pods for real: containerd pulls the image by digest from the tests' registry (plain
// HTTP on loopback), the volume claim binds to the node's volume and a non-root user writes it, the
// Pod's address answers from the test, and its log comes back through the API server from the
// kubelet.
func TestKubeNodeRunsAPod(t *testing.T) {
	k, node := SharedKubeWithNode(t)
	ns := k.Namespace(t)
	reg := StartRegistry(t, "", "")
	archive := filepath.Join(t.TempDir(), "web.tar")
	if _, err := testimage.Write(testimage.Sleeper("nixify.test/web:1"), archive); err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(reg.Addr() + "/web:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}

	pv := node.Volume(t, k, "nixify-test", "1Gi")
	labels := map[string]any{"app": "web"}
	sts := map[string]any{"apiVersion": "apps/v1", "kind": "StatefulSet",
		"metadata": map[string]any{"name": "web", "namespace": ns},
		"spec": map[string]any{
			"replicas": 1,
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{
					"securityContext": map[string]any{"runAsUser": 70, "runAsGroup": 70},
					"containers": []any{map[string]any{
						"name": "web", "image": reg.Addr() + "/web@" + digest.String(),
						"command": []string{"/bin/busybox", "sh", "-c",
							"echo serving; echo hello > /data/index.html; exec /bin/busybox httpd -f -p 8080 -h /data"},
						"volumeMounts": []any{map[string]any{"name": "data", "mountPath": "/data"}}}}},
			},
			"volumeClaimTemplates": []any{map[string]any{
				"metadata": map[string]any{"name": "data"},
				"spec": map[string]any{"accessModes": []string{"ReadWriteOnce"}, "storageClassName": "nixify-test",
					"resources": map[string]any{"requests": map[string]string{"storage": "1Gi"}}}}},
		}}
	if status, got := apply(t, k, k.AdminToken, "/apis/apps/v1/namespaces/"+ns+"/statefulsets/web", sts); status != http.StatusCreated {
		t.Fatalf("apply StatefulSet: %d %v", status, got)
	}

	var pod struct {
		Spec   struct{ NodeName string } `json:"spec"`
		Status struct {
			Phase string `json:"phase"`
			PodIP string `json:"podIP"`
		} `json:"status"`
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		status, out, err := k.Do(k.AdminToken, http.MethodGet, "/api/v1/namespaces/"+ns+"/pods/web-0", "", nil)
		if err == nil && status == http.StatusOK && json.Unmarshal(out, &pod) == nil && pod.Status.Phase == "Running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("web-0 not running after 3 minutes: %d %s %v\n%s", status, out, err, k.Logs())
		}
		time.Sleep(500 * time.Millisecond)
	}
	if pod.Spec.NodeName != node.Name {
		t.Fatalf("web-0 runs on %q, not on %q", pod.Spec.NodeName, node.Name)
	}
	var body string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get("http://" + net.JoinHostPort(pod.Status.PodIP, "8080") + "/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("web-0 at %s does not answer: %v", pod.Status.PodIP, err)
		}
	}
	if body != "hello\n" {
		t.Fatalf("web-0 answered %q", body)
	}
	if b, err := os.ReadFile(filepath.Join(node.Dir, "volumes", pv, "index.html")); err != nil || string(b) != "hello\n" {
		t.Fatalf("web-0 did not write its volume %s: %q %v", pv, b, err)
	}
	status, out, err := k.Do(k.AdminToken, http.MethodGet, "/api/v1/namespaces/"+ns+"/pods/web-0/log", "", nil)
	if err != nil || status != http.StatusOK || string(out) != "serving\n" {
		t.Fatalf("web-0's log through the API server: %d %q %v", status, out, err)
	}
}
