package status

import (
	"context"
	"fmt"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/kube"
)

// KubeStatus is what `status --kube` reports: the StatefulSet deploy made, its pod, and the pod's
// health through a port-forward.
type KubeStatus struct {
	Name      string         `json:"name"`
	Namespace string         `json:"namespace"`
	Context   string         `json:"context"`
	Rollout   kube.Rollout   `json:"rollout"`
	Ready     bool           `json:"ready"`
	Health    *shared.Report `json:"health,omitempty"` // only of a ready pod
}

// kubeStatusRun is status --kube: exit 0 ready and healthy, 3 not (or no such StatefulSet).
func kubeStatusRun(ctx context.Context, opts *Options) error {
	l, err := opts.Config()
	if err != nil {
		return err
	}
	name := l.Config.Container
	c, err := opts.Kube.ConnectKube()
	if err != nil {
		return err
	}
	r, err := c.Status(ctx, name)
	if kube.IsNotFound(err) {
		return &cli.ExitError{Code: cli.ExitUnhealthy, Err: fmt.Errorf("no StatefulSet %s in namespace %s (context %s)", name, c.Namespace, c.Context),
			Hint: "deploy it with `nixify deploy`, or name it with --container and --namespace"}
	}
	if err != nil {
		return shared.KubeError(err)
	}
	st := KubeStatus{Name: name, Namespace: c.Namespace, Context: c.Context, Rollout: r, Ready: r.Done()}
	if r.Pod != nil && r.Pod.Ready {
		h := shared.PodHealth(ctx, c, r.Pod.Name)
		st.Health = &h
	}
	if opts.IO.WantsJSON() {
		if err := opts.IO.WriteJSON(st); err != nil {
			return err
		}
	} else {
		sty := opts.IO.Styles()
		line := func(k, v string) { opts.IO.Printf("%-12s %s\n", k+":", v) }
		state := sty.Status("ready")
		if !st.Ready {
			state = sty.Fail.Render("not ready")
		}
		line("statefulset", fmt.Sprintf("%s %s (namespace %s, context %s)", name, state, c.Namespace, c.Context))
		line("revision", fmt.Sprintf("%s (current %s), generation %d (seen %d)", r.UpdateRevision, r.CurrentRevision, r.Generation, r.ObservedGeneration))
		line("pod", r.Line())
		if st.Health != nil {
			if err := shared.PrintHealth(opts.IO, *st.Health); err != nil {
				return err
			}
		}
	}
	if !st.Ready || st.Health == nil || !st.Health.Healthy {
		return cli.Silent(cli.ExitUnhealthy)
	}
	return nil
}
