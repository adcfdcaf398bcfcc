package testpeer

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"go/build"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// KubeVersion is the Kubernetes release that tools/kube-peer links (its go.mod requires
// k8s.io/kubernetes at this version); .ci/run builds it once into the binary KubeBinaryName.
const KubeVersion = "v1.37.2"

// KubeBinaryName is the name of that binary in $(go env GOPATH)/bin.
const KubeBinaryName = "nixify-kube-" + KubeVersion

// The kubeconfig's two contexts: an administrator (group system:masters, all rights; the current
// context) and an authenticated user that no RBAC rule grants anything, for "no rights here" paths.
const (
	KubeAdminContext    = "nixify-admin"
	KubeNoRightsContext = "nixify-norights"
)

// kubeStartLimit bounds each component's start: a cold kube-apiserver on two busy cores takes
// tens of seconds to install its APIs and pass /readyz.
const kubeStartLimit = 3 * time.Minute

// Kube is a real Kubernetes control plane on loopback: Debian's etcd, and kube-apiserver,
// kube-controller-manager and kube-scheduler of tools/kube-peer. It has no node unless started with
// one, so Pods are created (by the controllers) and scheduled, but not run.
type Kube struct {
	Server        string // https://127.0.0.1:PORT
	CA            []byte // PEM: the API server's self-signed serving certificate and the CA that signed it
	AdminToken    string // bearer token of user nixify-admin, group system:masters
	NoRightsToken string // bearer token of user nixify-norights, bound to no role
	Kubeconfig    string // file with the contexts KubeAdminContext (current) and KubeNoRightsContext
	Dir           string // everything the cluster writes: etcd's data, certificates, keys, logs

	procs []*Process // in start order
	node  *KubeNode  // SharedKubeWithNode's, stopped first
}

// KubeBinary returns the path of the kube-peer binary: NIXIFY_KUBE_PEER, else KubeBinaryName on
// PATH, else in $(go env GOPATH)/bin.
func KubeBinary(t testing.TB) string {
	t.Helper()
	p, err := kubeBinary()
	if err != nil {
		Missing(t, "kube-apiserver", err.Error())
	}
	return p
}

func kubeBinary() (string, error) {
	if p := os.Getenv("NIXIFY_KUBE_PEER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("NIXIFY_KUBE_PEER: %w", err)
		}
		return p, nil
	}
	if p, err := exec.LookPath(KubeBinaryName); err == nil {
		return p, nil
	}
	p := filepath.Join(build.Default.GOPATH, "bin", KubeBinaryName)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s is not on PATH nor at %s; build it with: (cd tools/kube-peer && go build -o %s .)", KubeBinaryName, p, p)
	}
	return p, nil
}

// StartKube starts a control plane of its own for one test and stops it when the test ends. Starting
// takes tens of seconds: tests that can share one use SharedKube.
func StartKube(t testing.TB) *Kube {
	t.Helper()
	bin := KubeBinary(t)
	etcd := Binary(t, "etcd")
	k, err := startKube(bin, etcd, t.TempDir())
	if k != nil {
		t.Cleanup(k.stop)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var shared struct {
	sync.Mutex
	main bool  // KubeMain runs this package's tests
	kube *Kube // started by the first SharedKube
	dir  string
	err  error
}

// KubeMain runs a package's tests and stops the shared control plane (if a test started one)
// afterwards. A package whose tests call SharedKube has:
//
//	func TestMain(m *testing.M) { os.Exit(testpeer.KubeMain(m)) }
func KubeMain(m *testing.M) int {
	shared.Lock()
	shared.main = true
	shared.Unlock()
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if shared.kube != nil {
		shared.kube.stop()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	return code
}

// SharedKube returns the control plane shared by the package's tests, starting it on first use; it
// stops when KubeMain's tests are done. Each test works in a namespace of its own (Namespace).
func SharedKube(t testing.TB) *Kube {
	t.Helper()
	bin := KubeBinary(t)
	etcd := Binary(t, "etcd")
	shared.Lock()
	defer shared.Unlock()
	if !shared.main {
		t.Fatal("SharedKube needs the package's TestMain to run testpeer.KubeMain(m), which stops the cluster")
	}
	if shared.kube == nil && shared.err == nil {
		shared.dir, shared.err = os.MkdirTemp("", "nixify-kube-")
		if shared.err == nil {
			shared.kube, shared.err = startKube(bin, etcd, shared.dir)
		}
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.kube
}

func startKube(bin, etcdBin, dir string) (*Kube, error) {
	k := &Kube{Dir: dir, Kubeconfig: filepath.Join(dir, "kubeconfig")}
	if err := k.writeSecrets(); err != nil {
		return nil, err
	}
	etcdURL, err := k.startEtcd(etcdBin)
	if err != nil {
		return k, err
	}
	if err := k.startAPIServer(bin, etcdURL); err != nil {
		return k, err
	}
	if err := k.writeKubeconfig(); err != nil {
		return k, err
	}
	// The controllers and the scheduler have no readiness of their own to wait for: tests wait for
	// what they do (a Pod appearing, a Pod bound to a node).
	for _, name := range []string{"kube-controller-manager", "kube-scheduler"} {
		args := []string{name, "--kubeconfig=" + k.Kubeconfig, "--leader-elect=false", "--secure-port=0"}
		if name == "kube-controller-manager" {
			args = append(args, "--service-account-private-key-file="+filepath.Join(dir, "sa.key"),
				"--root-ca-file="+filepath.Join(dir, "apiserver", "apiserver.crt"))
		}
		p, err := launch(kubeCommand(bin, args...), 0)
		if err != nil {
			return k, err
		}
		k.procs = append(k.procs, p)
	}
	return k, nil
}

// kubeCommand runs a control-plane program that the kernel kills should the test binary die
// without its cleanup (a panic, a -timeout), so no stray cluster outlives the tests.
func kubeCommand(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// writeSecrets makes the service-account signing key and the token file of the two users.
func (k *Kube) writeSecrets() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	k.AdminToken, k.NoRightsToken = randomToken(), randomToken()
	tokens := fmt.Sprintf("%s,nixify-admin,nixify-admin,\"system:masters\"\n%s,nixify-norights,nixify-norights\n",
		k.AdminToken, k.NoRightsToken)
	for name, data := range map[string][]byte{
		"sa.key":     pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}),
		"sa.pub":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		"tokens.csv": []byte(tokens),
	} {
		if err := os.WriteFile(filepath.Join(k.Dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func randomToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (k *Kube) startEtcd(bin string) (string, error) {
	client, err := freePort()
	if err != nil {
		return "", err
	}
	peer, err := freePort()
	if err != nil {
		return "", err
	}
	clientURL := "http://127.0.0.1:" + strconv.Itoa(client)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peer)
	p, err := launch(kubeCommand(bin, "--name=nixify", "--data-dir="+filepath.Join(k.Dir, "etcd"),
		"--listen-client-urls="+clientURL, "--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=nixify="+peerURL, "--log-level=warn"), client)
	if err != nil {
		return "", err
	}
	k.procs = append(k.procs, p)
	return clientURL, waitProcess(p, "etcd", func() error {
		resp, err := http.Get(clientURL + "/health")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if !bytes.Contains(body, []byte(`"health":"true"`)) {
			return fmt.Errorf("/health: %s", body)
		}
		return nil
	})
}

func (k *Kube) startAPIServer(bin, etcdURL string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	certDir := filepath.Join(k.Dir, "apiserver")
	p, err := launch(kubeCommand(bin, "kube-apiserver",
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(port), "--cert-dir="+certDir,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+filepath.Join(k.Dir, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(k.Dir, "sa.key"),
		"--token-auth-file="+filepath.Join(k.Dir, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--allow-privileged=true",
		// The kubelet registers its node under a name no resolver knows: logs, exec and
		// port-forward reach it at the node's address.
		"--kubelet-preferred-address-types=InternalIP",
		"--profiling=false"), port)
	if err != nil {
		return err
	}
	k.procs = append(k.procs, p)
	k.Server = "https://" + p.Addr()
	return waitProcess(p, "kube-apiserver", func() error {
		if k.CA == nil {
			// The API server writes its self-signed certificate (followed by its CA) before it
			// listens; read it once it is whole.
			ca, err := os.ReadFile(filepath.Join(certDir, "apiserver.crt"))
			if err != nil || bytes.Count(ca, []byte("END CERTIFICATE")) < 2 {
				return fmt.Errorf("no serving certificate in %s yet", certDir)
			}
			k.CA = ca
		}
		status, body, err := k.Do(k.AdminToken, http.MethodGet, "/readyz", "", nil)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("/readyz: %d %s", status, body)
		}
		return nil
	})
}

// writeKubeconfig writes the kubeconfig file (JSON, which every kubeconfig reader accepts as YAML).
func (k *Kube) writeKubeconfig() error {
	user := func(name, token string) map[string]any {
		return map[string]any{"name": name, "user": map[string]any{"token": token}}
	}
	context := func(name string) map[string]any {
		return map[string]any{"name": name, "context": map[string]any{"cluster": "nixify-test", "user": name}}
	}
	cfg := map[string]any{
		"apiVersion": "v1",
		"kind":       "Config",
		"clusters": []any{map[string]any{"name": "nixify-test", "cluster": map[string]any{
			"server": k.Server, "certificate-authority-data": k.CA}}},
		"users":           []any{user(KubeAdminContext, k.AdminToken), user(KubeNoRightsContext, k.NoRightsToken)},
		"contexts":        []any{context(KubeAdminContext), context(KubeNoRightsContext)},
		"current-context": KubeAdminContext,
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(k.Kubeconfig, b, 0o600)
}

// stop ends the components in reverse order (the API server before etcd).
func (k *Kube) stop() {
	if k.node != nil {
		k.node.stop()
	}
	for i := len(k.procs) - 1; i >= 0; i-- {
		k.procs[i].stop(syscall.SIGTERM)
	}
}

// Logs is what the components wrote so far, for failure messages.
func (k *Kube) Logs() string {
	var b strings.Builder
	procs := k.procs
	if k.node != nil {
		procs = append(procs[:len(procs):len(procs)], k.node.procs...)
	}
	for _, p := range procs {
		fmt.Fprintf(&b, "== %s\n%s\n", strings.Join(p.Cmd.Args[:min(2, len(p.Cmd.Args))], " "), p.Output())
	}
	return b.String()
}

// Do sends one request to the API server as the user of token and returns the status and body.
// contentType is that of body (for server-side apply: application/apply-patch+yaml, which takes JSON).
func (k *Kube) Do(token, method, path, contentType string, body []byte) (int, []byte, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(k.CA) {
		return 0, nil, errors.New("the API server's certificate does not parse")
	}
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	req, err := http.NewRequest(method, k.Server+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// Namespace creates a namespace of the test's own (named after it) and deletes it when the test ends.
func (k *Kube) Namespace(t testing.TB) string {
	t.Helper()
	name := "t-" + randomToken()[:10]
	body, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": name, "labels": map[string]string{"nixify-test": testLabel(t.Name())}}})
	status, out, err := k.Do(k.AdminToken, http.MethodPost, "/api/v1/namespaces", "application/json", body)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("create namespace %s: %d %s %v", name, status, out, err)
	}
	t.Cleanup(func() { k.Do(k.AdminToken, http.MethodDelete, "/api/v1/namespaces/"+name, "", nil) })
	return name
}

// testLabel makes a test's name a valid label value (63 characters of [A-Za-z0-9._-]).
func testLabel(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	s := strings.Trim(string(b[:min(len(b), 63)]), "._-")
	if s == "" {
		return "test"
	}
	return s
}
