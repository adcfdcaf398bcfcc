package kube

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// Action says what an apply did to one object.
type Action string

const (
	Created    Action = "created"
	Configured Action = "configured"
	Unchanged  Action = "unchanged"
	Validated  Action = "validated" // --server-dry-run: the API server accepted it and wrote nothing
)

// Applied is one object after the apply: what happened to it, and its version.
type Applied struct {
	Kind            string `json:"kind"`
	Name            string `json:"name"`
	Action          Action `json:"action"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	Generation      int64  `json:"generation,omitempty"`
}

// Plan is an apply checked by the API server: every object went through a server-side dry run
// (admission, validation, the user's rights, field ownership) before any is written.
type Plan struct {
	c       *Client
	objs    []Object
	bodies  [][]byte
	before  []string // each object's resourceVersion before, "" when it did not exist
	force   bool
	Applied []Applied // after the dry run: Validated each
}

// Prepare has the API server validate every object (server-side apply with dryRun=All) and writes
// nothing: when any object is refused, no object has been written.
func (c *Client) Prepare(ctx context.Context, objs []Object, force bool) (*Plan, error) {
	p := &Plan{c: c, objs: objs, force: force}
	for _, o := range objs {
		body, err := o.JSON()
		if err != nil {
			return nil, err
		}
		p.bodies = append(p.bodies, body)
		live, err := c.get(ctx, o)
		if err != nil {
			return nil, err
		}
		p.before = append(p.before, live.ResourceVersion)
	}
	for i, o := range objs {
		m, err := c.apply(ctx, o, p.bodies[i], force, true)
		if apierrors.IsNotFound(err) {
			// An apply creates what is missing: of the core kinds nixify writes, only the
			// namespace can be (the API server says "the server could not find the requested resource").
			return nil, &Error{Kind: ErrNoNamespace, msg: fmt.Sprintf("namespace %s does not exist on %s (nothing was written)", c.Namespace, c.Server), err: err}
		}
		if err != nil {
			return nil, c.Explain(fmt.Sprintf("the API server refused %s %s (server dry run; nothing was written)", o.Kind, o.Name), err)
		}
		p.Applied = append(p.Applied, Applied{Kind: o.Kind, Name: o.Name, Action: Validated, ResourceVersion: m.ResourceVersion, Generation: m.Generation})
	}
	return p, nil
}

// Apply writes the objects in order with server-side apply under the field manager nixify.
func (p *Plan) Apply(ctx context.Context) ([]Applied, error) {
	var out []Applied
	for i, o := range p.objs {
		// Read again just before: a controller's status write since the dry run (the
		// StatefulSet's) changes the resource version without anything nixify applies changing.
		if live, err := p.c.get(ctx, o); err == nil && live.ResourceVersion != "" {
			p.before[i] = live.ResourceVersion
		}
		m, err := p.c.apply(ctx, o, p.bodies[i], p.force, false)
		if err != nil {
			return out, p.c.Explain(fmt.Sprintf("apply %s %s", o.Kind, o.Name), err)
		}
		a := Applied{Kind: o.Kind, Name: o.Name, ResourceVersion: m.ResourceVersion, Generation: m.Generation}
		switch {
		case p.before[i] == "":
			a.Action = Created
		case p.before[i] == m.ResourceVersion:
			a.Action = Unchanged
		default:
			a.Action = Configured
		}
		out = append(out, a)
	}
	return out, nil
}

// resource is the REST client and resource name of a kind nixify writes.
func (c *Client) resource(kind string) (rest.Interface, string) {
	switch kind {
	case "Secret":
		return c.Core, "secrets"
	case "Service":
		return c.Core, "services"
	}
	return c.Apps, "statefulsets"
}

// get returns the live object's metadata, empty when it does not exist.
func (c *Client) get(ctx context.Context, o Object) (metav1.ObjectMeta, error) {
	rc, res := c.resource(o.Kind)
	raw, err := body(rc.Get().Namespace(c.Namespace).Resource(res).Name(o.Name).Do(ctx))
	if apierrors.IsNotFound(err) {
		return metav1.ObjectMeta{}, nil
	}
	if err != nil {
		return metav1.ObjectMeta{}, c.Explain(fmt.Sprintf("read %s %s in namespace %s", o.Kind, o.Name, c.Namespace), err)
	}
	return decodeMeta(raw)
}

func (c *Client) apply(ctx context.Context, o Object, data []byte, force, dry bool) (metav1.ObjectMeta, error) {
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: &force}
	if dry {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	rc, res := c.resource(o.Kind)
	raw, err := body(rc.Patch(types.ApplyPatchType).Namespace(c.Namespace).Resource(res).Name(o.Name).
		VersionedParams(&opts, metav1.ParameterCodec).Body(data).Do(ctx))
	if err != nil {
		return metav1.ObjectMeta{}, err
	}
	return decodeMeta(raw)
}

// body is a result's body, or its error as the API server's Status says it: Raw alone gives
// client-go's generic words ("the server reported a conflict") in place of the server's ("Apply
// failed with 1 conflict: conflict with ...").
func body(res rest.Result) ([]byte, error) {
	if err := res.Error(); err != nil {
		return nil, err
	}
	return res.Raw()
}

func decodeMeta(raw []byte) (metav1.ObjectMeta, error) {
	var m struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return metav1.ObjectMeta{}, fmt.Errorf("read the API server's answer: %w", err)
	}
	return m.Metadata, nil
}

// ReadSecret returns the data of the Secret name, nil when there is none.
func (c *Client) ReadSecret(ctx context.Context, name string) (map[string][]byte, error) {
	var s corev1.Secret
	err := c.Core.Get().Namespace(c.Namespace).Resource("secrets").Name(name).Do(ctx).Into(&s)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, c.Explain(fmt.Sprintf("read Secret %s in namespace %s", name, c.Namespace), err)
	}
	if s.Data == nil {
		return map[string][]byte{}, nil
	}
	return s.Data, nil
}

// DataClaim is the claim the StatefulSet's pod keeps /data on.
func DataClaim(name string) string { return "data-" + name + "-0" }

// HasData reports whether the deployment's data volume claim exists: a database was (or is)
// initialized there with the passwords of the Secret it started with.
func (c *Client) HasData(ctx context.Context, name string) (bool, error) {
	err := c.Core.Get().Namespace(c.Namespace).Resource("persistentvolumeclaims").Name(DataClaim(name)).Do(ctx).Error()
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, c.Explain(fmt.Sprintf("read PersistentVolumeClaim %s in namespace %s", DataClaim(name), c.Namespace), err)
	}
	return true, nil
}
