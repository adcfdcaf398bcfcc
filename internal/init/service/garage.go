package service

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nixify/nixify/internal/init/garage"
	"github.com/nixify/nixify/internal/init/supervisor"
	"github.com/nixify/nixify/internal/initenv"
)

func garageService(c initenv.Config, sec *Secrets, logf func(format string, args ...any)) (supervisor.Service, error) {
	bin, err := program("garage")
	if err != nil {
		return supervisor.Service{}, err
	}
	dir := filepath.Join(c.DataDir, "garage")
	conf := filepath.Join(dir, "garage.toml")
	// The client is made when needed: the token is read from sec only after LoadSecrets.
	client := func() *garage.Client {
		return garage.NewClient("http://"+localAddr(c.Bind, c.AdminPort), sec.AdminToken)
	}
	return supervisor.Service{
		Name: initenv.Garage, User: "garage", DataDir: dir, DataMode: 0o700,
		Prepare: func(context.Context, supervisor.Runner) error {
			uid, gid, err := supervisor.Owner("garage")
			if err != nil {
				return err
			}
			for _, sub := range []string{"meta", "data"} {
				p := filepath.Join(dir, sub)
				if err := os.MkdirAll(p, 0o700); err != nil {
					return err
				}
				if err := os.Chown(p, uid, gid); err != nil {
					return err
				}
			}
			// Garage refuses secrets readable by others: the file holds rpc_secret and tokens.
			return writeGenerated(conf, []byte(garageConf(c, *sec, dir)), uid, gid)
		},
		Command: supervisor.Command{Path: bin, User: "garage", Args: []string{"-c", conf, "server"}},
		Ready:   func(ctx context.Context) error { return client().Health(ctx) },
		Setup: func(ctx context.Context) error {
			return garage.Bootstrap(ctx, client(), garage.Plan{Zone: "dc1", Capacity: c.Capacity,
				KeyName: "nixify", AccessKey: sec.AccessKey, SecretKey: sec.SecretKey, Bucket: c.Bucket}, logf)
		},
		StopSignal: syscall.SIGTERM, StopBudget: 2 * time.Second,
	}, nil
}

func garageConf(c initenv.Config, sec Secrets, dir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by nixify-init on every boot; edits are overwritten.\n")
	fmt.Fprintf(&b, "metadata_dir = %q\ndata_dir = %q\ndb_engine = \"lmdb\"\n", filepath.Join(dir, "meta"), filepath.Join(dir, "data"))
	fmt.Fprintf(&b, "replication_factor = 1\n")
	fmt.Fprintf(&b, "rpc_bind_addr = %q\nrpc_public_addr = %q\nrpc_secret = %q\n\n",
		hostPort(c.Bind, c.RPCPort), localAddr(c.Bind, c.RPCPort), sec.RPCSecret)
	fmt.Fprintf(&b, "[s3_api]\ns3_region = %q\napi_bind_addr = %q\nroot_domain = \".s3.garage.localhost\"\n\n",
		c.Region, hostPort(c.Bind, c.S3Port))
	fmt.Fprintf(&b, "[admin]\napi_bind_addr = %q\nadmin_token = %q\nmetrics_token = %q\n",
		hostPort(c.Bind, c.AdminPort), sec.AdminToken, sec.MetricsToken)
	return b.String()
}

// hostPort is a listen address for garage.toml; an IPv6 address gets its brackets.
func hostPort(bind string, port int) string {
	return net.JoinHostPort(bind, strconv.Itoa(port))
}
