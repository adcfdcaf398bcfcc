package testpeer

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// KubeNode is the one node of a test cluster: a containerd of its own (Debian's, with its CRI
// plugin; its own root, state and socket, never Docker's), Debian's CNI plugins (a bridge of its own
// with host-local addresses) and kubelet of tools/kube-peer. Pod addresses are reachable from the
// test; images are pulled by containerd, plain HTTP for registries on 127.0.0.1 (the tests'
// docker-registry), or imported from a docker-archive with ImportImage.
type KubeNode struct {
	Name   string // the Node object's name
	IP     string // its InternalIP: the machine's address on its default route
	Socket string // containerd's socket (ctr -a SOCKET -n k8s.io ...)
	Dir    string

	bridge string
	ctr    string
	procs  []*Process // containerd, kubelet
}

// kubeNodeName is the test node's name.
const kubeNodeName = "nixify-node"

var sharedNode struct {
	node *KubeNode
	err  error
}

// SharedKubeWithNode is SharedKube with a node that runs Pods, added on first use. Tests of a
// package share the node too; a test that needs Pods to stay unscheduled starts its own StartKube.
func SharedKubeWithNode(t testing.TB) (*Kube, *KubeNode) {
	t.Helper()
	k := SharedKube(t)
	Root(t, "the test node's kubelet mounts volumes and its containerd runs containers")
	bins := kubeNodeBinaries(t)
	shared.Lock()
	defer shared.Unlock()
	if sharedNode.node == nil && sharedNode.err == nil {
		sharedNode.node, sharedNode.err = k.startNode(bins)
		k.node = sharedNode.node // KubeMain stops it before the control plane
	}
	if sharedNode.err != nil {
		t.Fatal(sharedNode.err)
	}
	return k, sharedNode.node
}

type nodeBinaries struct{ kube, containerd, ctr, cni string }

func kubeNodeBinaries(t testing.TB) nodeBinaries {
	t.Helper()
	b := nodeBinaries{kube: KubeBinary(t), containerd: Binary(t, "containerd"), ctr: Binary(t, "ctr"), cni: "/usr/lib/cni"}
	Binary(t, "runc")
	for _, plugin := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join(b.cni, plugin)); err != nil {
			Missing(t, "containernetworking-plugins", err.Error())
		}
	}
	return b
}

// nodeIP is the address the kernel would send from on the default route: the kubelet may not
// register a loopback address, and the API server reaches it there for logs, exec and port-forward.
func nodeIP() (string, error) {
	conn, err := net.Dial("udp4", "192.0.2.1:9") // no packet is sent: it only picks a route
	if err != nil {
		return "", fmt.Errorf("the test node needs an address on a default route: %w", err)
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).IP.String(), nil
}

func (k *Kube) startNode(b nodeBinaries) (*KubeNode, error) {
	// Unix socket paths are limited to 108 bytes: a short directory of its own, not the test's.
	dir, err := os.MkdirTemp("", "nk-")
	if err != nil {
		return nil, err
	}
	id := randomToken()[:6]
	n := &KubeNode{Name: kubeNodeName, Dir: dir, Socket: filepath.Join(dir, "containerd.sock"), bridge: "nk" + id, ctr: b.ctr}
	if n.IP, err = nodeIP(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := n.startContainerd(b); err != nil {
		n.stop()
		return nil, err
	}
	archive, err := writePauseImage(dir)
	if err == nil {
		err = n.importImage(b.ctr, archive)
	}
	if err == nil {
		err = n.startKubelet(k, b)
	}
	if err != nil {
		n.stop()
		return nil, err
	}
	return n, nil
}

func (n *KubeNode) startContainerd(b nodeBinaries) error {
	subnet, err := hex.DecodeString(n.bridge[2:4])
	if err != nil {
		return err
	}
	cniDir := filepath.Join(n.Dir, "cni")
	if err := os.MkdirAll(cniDir, 0o700); err != nil {
		return err
	}
	cni, _ := json.Marshal(map[string]any{"cniVersion": "0.4.0", "name": "nixify", "plugins": []any{map[string]any{
		"type": "bridge", "bridge": n.bridge, "isGateway": true, "ipMasq": false,
		"ipam": map[string]any{"type": "host-local", "dataDir": filepath.Join(n.Dir, "ipam"),
			"ranges": [][]map[string]string{{{"subnet": fmt.Sprintf("10.244.%d.0/24", subnet[0])}}}},
	}}})
	if err := os.WriteFile(filepath.Join(cniDir, "10-nixify.conflist"), cni, 0o600); err != nil {
		return err
	}
	// restrict_oom_score_adj: a sandbox's runc sets oom_score_adj -998, which this kind of machine
	// (a VM whose init runs at 0) refuses with "failed to update /proc/self/oom_score_adj:
	// Permission denied"; containers keep containerd's own score instead.
	config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
[grpc]
  address = %[3]q
[ttrpc]
  address = "%[3]s.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[4]q
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[5]q
    conf_dir = %[6]q
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "%[1]s/certs.d"
`, filepath.Join(n.Dir, "root"), filepath.Join(n.Dir, "state"), n.Socket, kubePauseImage, b.cni, cniDir)
	path := filepath.Join(n.Dir, "containerd.toml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		return err
	}
	p, err := launch(kubeCommand(b.containerd, "--config", path), 0)
	if err != nil {
		return err
	}
	n.procs = append(n.procs, p)
	return waitProcess(p, "containerd", func() error {
		return exec.Command(b.ctr, "-a", n.Socket, "version").Run()
	})
}

// ImportImage loads a docker-archive into the node's containerd, for Pods whose image is on no
// registry (imagePullPolicy: Never or IfNotPresent).
func (n *KubeNode) ImportImage(t testing.TB, archive string) {
	t.Helper()
	if err := n.importImage(n.ctr, archive); err != nil {
		t.Fatal(err)
	}
}

func (n *KubeNode) importImage(ctr, archive string) error {
	out, err := exec.Command(ctr, "-a", n.Socket, "-n", "k8s.io", "images", "import", archive).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr images import %s: %v: %s", archive, err, out)
	}
	return nil
}

func (n *KubeNode) startKubelet(k *Kube, b nodeBinaries) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	// cgroupfs (Docker's driver here) on cgroup v1, which kubelet refuses unless told; no QoS
	// cgroups, swap allowed and no eviction: the node shares a small machine with everything else.
	// The API server reaches the kubelet anonymously (it holds no client certificate), so the
	// kubelet listens on the node's address only.
	config, _ := json.Marshal(map[string]any{
		"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
		"containerRuntimeEndpoint": "unix://" + n.Socket,
		"cgroupDriver":             "cgroupfs", "failCgroupV1": false, "failSwapOn": false,
		"cgroupsPerQOS": false, "enforceNodeAllocatable": []string{},
		"address": n.IP, "port": port, "readOnlyPort": 0, "healthzPort": 0,
		"authentication": map[string]any{"anonymous": map[string]any{"enabled": true}, "webhook": map[string]any{"enabled": false}},
		"authorization":  map[string]any{"mode": "AlwaysAllow"},
		"podLogsDir":     filepath.Join(n.Dir, "logs"),
		"evictionHard":   map[string]string{}, "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
		"localStorageCapacityIsolation": false,
	})
	path := filepath.Join(n.Dir, "kubelet.json")
	if err := os.WriteFile(path, config, 0o600); err != nil {
		return err
	}
	p, err := launch(kubeCommand(b.kube, "kubelet", "--config="+path, "--kubeconfig="+k.Kubeconfig,
		"--hostname-override="+n.Name, "--node-ip="+n.IP,
		"--root-dir="+filepath.Join(n.Dir, "kubelet"), "--cert-dir="+filepath.Join(n.Dir, "kubelet", "pki")), port)
	if err != nil {
		return err
	}
	n.procs = append(n.procs, p)
	return waitProcess(p, "kubelet", func() error {
		status, body, err := k.Do(k.AdminToken, http.MethodGet, "/api/v1/nodes/"+n.Name, "", nil)
		if err != nil {
			return err
		}
		var node struct {
			Status struct {
				Conditions []struct{ Type, Status string } `json:"conditions"`
			} `json:"status"`
		}
		if status != http.StatusOK || json.Unmarshal(body, &node) != nil {
			return fmt.Errorf("node %s: %d %s", n.Name, status, body)
		}
		for _, c := range node.Status.Conditions {
			if c.Type == "Ready" && c.Status == "True" {
				return nil
			}
		}
		return fmt.Errorf("node %s is not Ready: %s", n.Name, body)
	})
}

// stop removes every Pod container (containerd leaves them running when it stops), stops kubelet
// and containerd, unmounts what they left mounted under the node's directory and deletes the
// bridge.
func (n *KubeNode) stop() {
	for i := len(n.procs) - 1; i >= 0; i-- {
		if i == 0 { // containerd: kubelet has stopped
			n.removeContainers()
		}
		n.procs[i].stop(syscall.SIGTERM)
	}
	unmountUnder(n.Dir)
	exec.Command("ip", "link", "delete", n.bridge).Run()
	os.RemoveAll(n.Dir)
}

func (n *KubeNode) removeContainers() {
	ctrl := func(args ...string) string {
		out, _ := exec.Command(n.ctr, append([]string{"-a", n.Socket, "-n", "k8s.io"}, args...)...).Output()
		return string(out)
	}
	for _, id := range strings.Fields(ctrl("tasks", "list", "-q")) {
		ctrl("tasks", "kill", "-a", "-s", "SIGKILL", id)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range strings.Fields(ctrl("tasks", "list", "-q")) {
		for ctrl("tasks", "delete", id) == "" && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			if !strings.Contains(ctrl("tasks", "list", "-q"), id) {
				break
			}
		}
	}
	for _, id := range strings.Fields(ctrl("containers", "list", "-q")) {
		ctrl("containers", "delete", id)
	}
}

// unmountUnder detaches every mount below dir, deepest first (rootfs overlays, shm, netns files).
func unmountUnder(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var mounts []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			mounts = append(mounts, fields[4])
		}
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		syscall.Unmount(mounts[i], syscall.MNT_DETACH)
	}
}

// waitProcess polls ready until it succeeds, p exits or kubeStartLimit passes.
func waitProcess(p *Process, what string, ready func() error) error {
	deadline := time.Now().Add(kubeStartLimit)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if state := p.state(); state == "" || state == "Z" {
			return fmt.Errorf("%s exited while starting: %v\n%s", what, err, p.Output())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not become ready within %s: %v\n%s", what, kubeStartLimit, err, p.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Volume makes a PersistentVolume on the node for a StatefulSet's volume claim of storageClass (any
// name: static binding needs no StorageClass object) asking at most size ("1Gi"): a directory that
// any user may write, since the image's services run as users of their own. The kube-controller-
// manager binds the claim to it. It is deleted when the test ends; its name is returned.
func (n *KubeNode) Volume(t testing.TB, k *Kube, storageClass, size string) string {
	t.Helper()
	name := "pv-" + randomToken()[:10]
	dir := filepath.Join(n.Dir, "volumes", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o1777); err != nil {
		t.Fatal(err)
	}
	pv, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "PersistentVolume",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"capacity":                      map[string]string{"storage": size},
			"accessModes":                   []string{"ReadWriteOnce"},
			"storageClassName":              storageClass,
			"persistentVolumeReclaimPolicy": "Retain",
			"hostPath":                      map[string]string{"path": dir, "type": "Directory"},
		}})
	status, out, err := k.Do(k.AdminToken, http.MethodPost, "/api/v1/persistentvolumes", "application/json", pv)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("create PersistentVolume %s: %d %s %v", name, status, out, err)
	}
	t.Cleanup(func() { k.Do(k.AdminToken, http.MethodDelete, "/api/v1/persistentvolumes/"+name, "", nil) })
	return name
}
