package status

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/kube"
	"github.com/nixify/nixify/internal/testpeer"
)

func TestMain(m *testing.M) { os.Exit(testpeer.KubeMain(m)) }

// TestStatusOfADeployment: status --kube reads the StatefulSet deploy makes through a real API
// server (no node runs its pod): exit 3 with where the pod stands, and one line when there is none.
func TestStatusOfADeployment(t *testing.T) {
	k := testpeer.SharedKube(t)
	ns := k.Namespace(t)
	cfg := func() (*config.Loaded, error) {
		return &config.Loaded{Config: config.Config{Container: "nixify-health-check"}}, nil
	}
	target := shared.KubeTarget{On: true, Kubeconfig: k.Kubeconfig, Namespace: ns, RequestTimeout: 10 * time.Second}
	ios, _, _, _ := iostreams.Test()
	err := kubeStatusRun(context.Background(), &Options{IO: ios, Config: cfg, Kube: target})
	if cli.Code(err) != cli.ExitUnhealthy || !strings.Contains(err.Error(), "no StatefulSet nixify-health-check in namespace "+ns) {
		t.Fatalf("nothing deployed: %v (exit %d)", err, cli.Code(err))
	}

	c, err := target.ConnectKube()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kube.Objects(kube.Spec{Name: "nixify-health-check", Namespace: ns, Image: fmt.Sprintf("127.0.0.1:5000/o/n@sha256:%064d", 1),
		StorageSize: resource.MustParse("1Gi"), Startup: time.Minute}, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := c.Prepare(context.Background(), objs, false)
	if err == nil {
		_, err = plan.Apply(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	var st KubeStatus
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		ios, _, out, _ := iostreams.Test()
		ios.Format = iostreams.JSON
		err = kubeStatusRun(context.Background(), &Options{IO: ios, Config: cfg, Kube: target})
		if cli.Code(err) != cli.ExitUnhealthy {
			t.Fatalf("a pod nothing runs: %v (exit %d)", err, cli.Code(err))
		}
		if err := json.Unmarshal(out.Bytes(), &st); err != nil {
			t.Fatal(err, out)
		}
		if st.Rollout.Pod != nil {
			break
		}
	}
	if st.Ready || st.Rollout.Pod == nil || st.Rollout.Pod.Phase != "Pending" || st.Health != nil || st.Namespace != ns {
		t.Errorf("status of a pending pod: %+v %+v", st, st.Rollout.Pod)
	}
	ios, _, out, _ := iostreams.Test()
	kubeStatusRun(context.Background(), &Options{IO: ios, Config: cfg, Kube: target})
	if !strings.Contains(out.String(), "nixify-health-check not ready") || !strings.Contains(out.String(), "pod:") {
		t.Errorf("text:\n%s", out)
	}
}
