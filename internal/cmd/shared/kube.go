package shared

import (
	"context"
	"errors"
	"time"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/kube"
	"github.com/spf13/cobra"
)

// KubeTarget is the deployment a day-2 command reads through the API server (--kube) instead of
// the container on the Docker engine: the StatefulSet `nixify deploy` made.
type KubeTarget struct {
	On                             bool
	Kubeconfig, Context, Namespace string
	RequestTimeout                 time.Duration
}

// AddKubeFlags declares --kube and the kubeconfig flags deploy has.
func AddKubeFlags(cmd *cobra.Command, t *KubeTarget) {
	fl := cmd.Flags()
	fl.BoolVar(&t.On, "kube", false, "the deployment `nixify deploy` made, through the Kubernetes API server, instead of the container")
	fl.StringVar(&t.Kubeconfig, "kubeconfig", "", "with --kube: kubeconfig file (default: KUBECONFIG, else ~/.kube/config)")
	fl.StringVar(&t.Context, "context", "", "with --kube: kubeconfig context (default: the current one)")
	fl.StringVarP(&t.Namespace, "namespace", "n", "", "with --kube: namespace (default: the context's)")
	fl.DurationVar(&t.RequestTimeout, "request-timeout", 30*time.Second, "with --kube: give up on an API server request that gets no answer for this long")
}

// ConnectKube connects to the target's cluster; a bad kubeconfig is exit 2.
func (t KubeTarget) ConnectKube() (*kube.Client, error) {
	c, err := kube.Connect(kube.Target{Kubeconfig: t.Kubeconfig, Context: t.Context, Namespace: t.Namespace, RequestTimeout: t.RequestTimeout}, nil)
	if err != nil {
		return nil, KubeError(err)
	}
	return c, nil
}

// KubeError gives the ways a cluster call fails their exit codes: a kubeconfig that names no
// cluster 2, an API server out of reach or silent 4, the rest (refused, no rights) 1.
func KubeError(err error) error {
	var ee *cli.ExitError
	switch {
	case errors.As(err, &ee), errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, kube.ErrNoConfig):
		return &cli.ExitError{Code: cli.ExitUsage, Err: err, Hint: "point KUBECONFIG or --kubeconfig at the cluster's kubeconfig, and --context at one of its contexts (kubectl config get-contexts)"}
	case errors.Is(err, kube.ErrUnreachable):
		return cli.Unavailable(err, "check that the cluster is up and reachable from here (kubectl cluster-info), or raise --request-timeout")
	}
	return cli.Fail(err)
}

// PodHealth asks the pod's health server through a port-forward of the API server, as Collect
// asks a container's through its published port.
func PodHealth(ctx context.Context, c *kube.Client, pod string) Report {
	r := Report{Container: pod, State: "running", Services: []ServiceReport{}}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	url, err := c.ForwardHealth(fctx, pod)
	if err != nil {
		r.Error = "no port-forward to the pod: " + err.Error()
		return r
	}
	resp, code, err := container.Probe(fctx, url)
	if err != nil {
		r.Error = "the health server does not answer through the port-forward: " + ProbeError(err)
		return r
	}
	return FromResponse(r, resp, code)
}
