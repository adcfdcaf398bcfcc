package kube

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Rollout is the StatefulSet's progress towards its last applied generation, and its pod's state.
type Rollout struct {
	Generation         int64  `json:"generation"`
	ObservedGeneration int64  `json:"observedGeneration"`
	UpdateRevision     string `json:"updateRevision"`
	CurrentRevision    string `json:"currentRevision"`
	ReadyReplicas      int32  `json:"readyReplicas"`
	UpdatedReplicas    int32  `json:"updatedReplicas"`
	Pod                *Pod   `json:"pod,omitempty"`
}

// Pod is what the StatefulSet's pod is doing, in a few words.
type Pod struct {
	Name     string `json:"name"`
	Phase    string `json:"phase"`
	Revision string `json:"revision"`
	Ready    bool   `json:"ready"`
	Restarts int32  `json:"restarts"`
	Node     string `json:"node,omitempty"`
	// Waiting is why it is not running or not ready: the scheduler's, the kubelet's or the
	// container's reason and message (ImagePullBackOff, CrashLoopBackOff, Unschedulable, ...).
	Waiting string `json:"waiting,omitempty"`
}

// Done says the controller has seen the last generation, updated the pod to its revision, and the
// pod is ready: kubectl rollout status's rule for a StatefulSet.
func (r Rollout) Done() bool {
	return r.ObservedGeneration >= r.Generation && r.UpdatedReplicas >= 1 && r.ReadyReplicas >= 1 &&
		r.UpdateRevision != "" && r.UpdateRevision == r.CurrentRevision
}

// Status reads the StatefulSet name and its pod once.
func (c *Client) Status(ctx context.Context, name string) (Rollout, error) {
	var ss appsv1.StatefulSet
	if err := c.Apps.Get().Namespace(c.Namespace).Resource("statefulsets").Name(name).Do(ctx).Into(&ss); err != nil {
		return Rollout{}, c.Explain("read StatefulSet "+name, err)
	}
	r := fromStatefulSet(&ss)
	var pod corev1.Pod
	err := c.Core.Get().Namespace(c.Namespace).Resource("pods").Name(name + "-0").Do(ctx).Into(&pod)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return r, c.Explain("read Pod "+name+"-0", err)
	default:
		r.Pod = fromPod(&pod)
	}
	return r, nil
}

func fromStatefulSet(ss *appsv1.StatefulSet) Rollout {
	return Rollout{Generation: ss.Generation, ObservedGeneration: ss.Status.ObservedGeneration,
		UpdateRevision: ss.Status.UpdateRevision, CurrentRevision: ss.Status.CurrentRevision,
		ReadyReplicas: ss.Status.ReadyReplicas, UpdatedReplicas: ss.Status.UpdatedReplicas}
}

func fromPod(p *corev1.Pod) *Pod {
	out := &Pod{Name: p.Name, Phase: string(p.Status.Phase), Revision: p.Labels[appsv1.ControllerRevisionHashLabelKey], Node: p.Spec.NodeName}
	if p.DeletionTimestamp != nil {
		out.Phase = "Terminating"
	}
	for _, cs := range p.Status.ContainerStatuses {
		out.Restarts += cs.RestartCount
		switch {
		case cs.State.Waiting != nil:
			out.Waiting = join(cs.State.Waiting.Reason, cs.State.Waiting.Message)
		case cs.State.Terminated != nil:
			out.Waiting = join(cs.State.Terminated.Reason, fmt.Sprintf("exit code %d", cs.State.Terminated.ExitCode))
		}
	}
	for _, cond := range p.Status.Conditions {
		switch {
		case cond.Type == corev1.PodReady:
			out.Ready = cond.Status == corev1.ConditionTrue
		case cond.Type == corev1.PodScheduled && cond.Status != corev1.ConditionTrue && out.Waiting == "":
			out.Waiting = join(cond.Reason, cond.Message)
		}
	}
	if out.Waiting == "" && p.Spec.NodeName == "" && out.Phase == string(corev1.PodPending) {
		out.Waiting = "not scheduled to a node yet"
	}
	return out
}

func join(reason, message string) string {
	message = firstLine(message)
	switch {
	case reason == "":
		return message
	case message == "":
		return reason
	}
	return reason + ": " + message
}

// Line says where the rollout stands, in one line for the live view and the timeout's message.
func (r Rollout) Line() string {
	switch {
	case r.ObservedGeneration < r.Generation:
		return fmt.Sprintf("the StatefulSet controller has not seen generation %d yet", r.Generation)
	case r.Pod == nil:
		return "no pod yet"
	}
	p := r.Pod
	var parts []string
	state := strings.ToLower(p.Phase)
	if p.Phase == string(corev1.PodRunning) && !p.Ready {
		state = "running, not ready"
	}
	parts = append(parts, fmt.Sprintf("pod %s %s", p.Name, state))
	if p.Revision != "" && p.Revision != r.UpdateRevision {
		parts = append(parts, "of the previous revision")
	}
	if p.Restarts > 0 {
		parts = append(parts, fmt.Sprintf("%d restarts", p.Restarts))
	}
	if p.Waiting != "" {
		parts = append(parts, p.Waiting)
	}
	return strings.Join(parts, " · ")
}

// Short is Line without the pod's name, for the live line that already names the StatefulSet:
// on 80 columns the reason (Unschedulable, ImagePullBackOff) fits.
func (r Rollout) Short() string {
	if r.Pod == nil {
		return r.Line()
	}
	return strings.TrimPrefix(r.Line(), "pod "+r.Pod.Name+" ")
}

// Wait polls the rollout every interval until it is done, ctx ends, or deadline passes; each new
// state goes to progress. It returns the last state seen.
func (c *Client) Wait(ctx context.Context, name string, deadline time.Duration, interval time.Duration, progress func(Rollout)) (Rollout, error) {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	var last Rollout
	for {
		r, err := c.Status(ctx, name)
		if err != nil {
			if ctx.Err() != nil {
				return last, ctx.Err()
			}
			return last, err
		}
		last = r
		if progress != nil {
			progress(r)
		}
		if r.Done() {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(interval):
		}
	}
}
