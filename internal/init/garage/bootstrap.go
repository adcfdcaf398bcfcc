package garage

import (
	"context"
	"fmt"
	"net/http"
)

// Plan is what the bootstrap makes true.
type Plan struct {
	Zone      string // zone of the single node, e.g. "dc1"
	Capacity  int64  // bytes offered by the node; only a weight for a single node
	KeyName   string
	AccessKey string // GK + 24 hex
	SecretKey string // 64 hex
	Bucket    string // global alias
}

// Bootstrap brings a fresh single-node Garage to a usable state and is a no-op on a node that is
// already there: it applies a layout only when none has a role, imports the key (409 means it is
// already known), creates the bucket only when its alias is unknown and allows the key only when it
// lacks a permission. logf reports each change.
func Bootstrap(ctx context.Context, c *Client, p Plan, logf func(format string, args ...any)) error {
	layout, err := c.Layout(ctx)
	if err != nil {
		return fmt.Errorf("read layout: %w", err)
	}
	if len(layout.Roles) == 0 {
		status, err := c.ClusterStatus(ctx)
		if err != nil {
			return fmt.Errorf("read node id: %w", err)
		}
		if len(status.Nodes) != 1 {
			return fmt.Errorf("expected a single node, the cluster reports %d", len(status.Nodes))
		}
		node := status.Nodes[0].ID
		capacity := p.Capacity
		if err := c.StageRoles(ctx, []Role{{ID: node, Zone: p.Zone, Capacity: &capacity, Tags: []string{}}}); err != nil {
			return fmt.Errorf("assign role to node %.16s: %w", node, err)
		}
		if err := c.ApplyLayout(ctx, layout.Version+1); err != nil {
			return fmt.Errorf("apply layout version %d: %w", layout.Version+1, err)
		}
		logf("layout version %d applied: node %.16s in zone %s", layout.Version+1, node, p.Zone)
	}

	switch err := c.ImportKey(ctx, p.KeyName, p.AccessKey, p.SecretKey); {
	case err == nil:
		logf("access key %s imported", p.AccessKey)
	case statusOf(err) == http.StatusConflict:
		// Already imported on an earlier boot.
	default:
		return fmt.Errorf("import access key %s: %w", p.AccessKey, err)
	}

	bucket, err := c.BucketByAlias(ctx, p.Bucket)
	if statusOf(err) == http.StatusNotFound {
		bucket, err = c.CreateBucket(ctx, p.Bucket)
		if err == nil {
			logf("bucket %s created", p.Bucket)
		}
	}
	if err != nil {
		return fmt.Errorf("bucket %s: %w", p.Bucket, err)
	}

	want := Perms{Read: true, Write: true, Owner: true}
	for _, k := range bucket.Keys {
		if k.AccessKeyID == p.AccessKey && k.Permissions == want {
			return nil
		}
	}
	if err := c.AllowKey(ctx, bucket.ID, p.AccessKey, want); err != nil {
		return fmt.Errorf("allow key %s on bucket %s: %w", p.AccessKey, p.Bucket, err)
	}
	logf("key %s allowed on bucket %s", p.AccessKey, p.Bucket)
	return nil
}
