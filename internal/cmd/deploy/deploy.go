// Package deploy implements `nixify deploy`: put the last pushed image (by digest) on Kubernetes as
// a StatefulSet of one pod with its data volume, Secret and Services, applied with server-side
// apply after the API server validated every object, then wait for the rollout and show the same
// health table `run` prints. The manifests and the cluster calls live in internal/kube.
package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/kube"
	"github.com/nixify/nixify/internal/registryclient"
	"github.com/spf13/cobra"
)

// Options is what `nixify deploy` needs.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)

	Image          string
	Kubeconfig     string
	Context        string
	Namespace      string
	Env            []string
	StorageSize    string
	StorageClass   string
	CPU, Memory    string
	Startup        time.Duration
	Timeout        time.Duration
	RequestTimeout time.Duration
	Wait           bool
	DryRun         bool
	ServerDryRun   bool
	ForceConflicts bool

	// Poll is how often the rollout is read (tests: shorter).
	Poll time.Duration
	// Registry adds registry client options (tests).
	Registry []registryclient.Option
}

// NewCmdDeploy wires the command; runF replaces the run function in tests.
func NewCmdDeploy(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Poll: 2 * time.Second}
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Run the last pushed image on Kubernetes (StatefulSet, volume, Secret, Services) and wait until ready",
		Long: `Apply the manifests of the last pushed image (by digest, never a tag; --image REF for another:
a tag is resolved to its digest through the registry) to the cluster of the current kubeconfig
context (--kubeconfig, else KUBECONFIG, else ~/.kube/config; --context, --namespace):
  Secret NAME               POSTGRES_PASSWORD, REDIS_PASSWORD, GARAGE_ACCESS_KEY, GARAGE_SECRET_KEY,
                            GARAGE_ADMIN_TOKEN: generated on the first deploy, read back and kept
                            on every later one, never printed
  Service NAME              headless, for the StatefulSet's pod (NAME-0.NAME)
  Service NAME-health       the health server (port 80: /health, /livez, /readyz)
  Service NAME-SERVICE      each --publish item (postgres, redis, s3), on its port
  StatefulSet NAME          one replica (the pod holds a database on a ReadWriteOnce volume), a
                            volume claim for /data (--storage-size, --storage-class), probes on
                            /livez (startup, liveness) and /readyz (readiness), a read-only root
                            with only the capabilities nixify-init needs
NAME is the container key (--name). Every object first goes through a server-side dry run; only
when the API server accepts all of them are they applied (server-side apply, field manager
nixify), the StatefulSet last. Then deploy waits for the rollout (--timeout) and shows the pod's
health through a port-forward; --wait=false returns once applied.

--dry-run -o yaml prints the manifests for GitOps and needs no cluster (the Secret is left out:
a comment says how to create it); --server-dry-run has the cluster validate them, writing nothing.

Exit codes: 0 applied (and ready); 1 refused by the API server, no rights, never pushed; 2 bad flag,
value or kubeconfig; 3 not ready within --timeout; 4 API server or registry unreachable or silent;
130 interrupted (what was applied stays applied).`,
		Example: `  nixify push && nixify deploy
  nixify deploy --namespace apps --publish postgres,redis --storage-size 50Gi
  nixify deploy --image ghcr.io/owner/app:main-1a2b3c4 --context prod
  nixify deploy --dry-run -o yaml > k8s/nixify.yaml
  nixify deploy --server-dry-run`,
		Args:        cobra.NoArgs,
		Annotations: map[string]string{cli.YAMLOutput: "yes"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return deployRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Image, "image", "", "image to deploy: REPO@sha256:DIGEST, or REPO:TAG resolved to its digest (default: the last push)")
	fl.StringVar(&opts.Kubeconfig, "kubeconfig", "", "kubeconfig file (default: KUBECONFIG, else ~/.kube/config)")
	fl.StringVar(&opts.Context, "context", "", "kubeconfig context (default: the current one)")
	fl.StringVarP(&opts.Namespace, "namespace", "n", "", "namespace (default: the context's, else default)")
	fl.String("name", "", "name of the StatefulSet, its Services and Secret (default: the container key)")
	fl.StringArrayVarP(&opts.Env, "env", "e", nil, "set an environment variable in the pod, KEY=VALUE (repeatable; the env key's too)")
	fl.StringSlice("publish", nil, "a Service per service: postgres, redis, s3 or all, each optionally NAME=PORT (the Service's port)")
	fl.StringVar(&opts.StorageSize, "storage-size", "10Gi", "size of the /data volume claim")
	fl.StringVar(&opts.StorageClass, "storage-class", "", "storage class of the /data volume claim (default: the cluster's default)")
	fl.StringVar(&opts.CPU, "cpu", "", "CPU request, e.g. 500m or 2 (no limit)")
	fl.StringVar(&opts.Memory, "memory", "", "memory request and limit, e.g. 1Gi")
	fl.DurationVar(&opts.Startup, "startup-timeout", 10*time.Minute, "how long the pod may take to answer /livez the first time (first boot, Redis loading its data)")
	fl.DurationVar(&opts.Timeout, "timeout", 10*time.Minute, "how long to wait for the rollout (pulling the image included)")
	fl.DurationVar(&opts.RequestTimeout, "request-timeout", 30*time.Second, "give up on an API server or registry request that gets no answer for this long")
	fl.BoolVar(&opts.Wait, "wait", true, "wait for the rollout and show the pod's health (--wait=false: return once applied)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the manifests (-o yaml for GitOps) and ask no cluster")
	fl.BoolVar(&opts.ServerDryRun, "server-dry-run", false, "have the API server validate every object, and write nothing")
	fl.BoolVar(&opts.ForceConflicts, "force-conflicts", false, "take over fields another manager (kubectl edit, another tool) set")
	cmd.MarkFlagsMutuallyExclusive("dry-run", "server-dry-run")
	f.BindFlag("container", fl.Lookup("name"))
	f.BindFlag("publish", fl.Lookup("publish"))
	return cmd
}

// Result is what deploy reports (-o json).
type Result struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Image     string         `json:"image"`
	Context   string         `json:"context"`
	Server    string         `json:"server"`
	DryRun    bool           `json:"serverDryRun,omitempty"`
	Objects   []kube.Applied `json:"objects"`
	Secret    string         `json:"secret"` // "generated", "kept" or "completed": never a value
	Rollout   *kube.Rollout  `json:"rollout,omitempty"`
	Health    *shared.Report `json:"health,omitempty"`
	// TookSeconds is from the start to applied (and ready, when waited for).
	TookSeconds float64 `json:"tookSeconds"`
}

func deployRun(ctx context.Context, opts *Options) error {
	began := time.Now()
	l, err := opts.Config()
	if err != nil {
		return err
	}
	spec, err := opts.spec(l.Config)
	if err != nil {
		return err
	}
	if opts.IO.Format == iostreams.YAML && !opts.DryRun {
		return cli.Usagef("-o yaml prints manifests: use it with --dry-run")
	}
	img, err := resolveImage(ctx, opts, l.Config)
	if err != nil {
		return err
	}
	spec.Image, spec.Archs = img.Ref, img.Archs
	if opts.DryRun {
		spec.Namespace = opts.Namespace
		return printManifests(opts, spec)
	}
	c, err := kube.Connect(kube.Target{Kubeconfig: opts.Kubeconfig, Context: opts.Context, Namespace: opts.Namespace, RequestTimeout: opts.RequestTimeout},
		func(w string) { opts.IO.Errorf("%s %s\n", opts.IO.Styles().Warn.Render("warning:"), w) })
	if err != nil {
		return clusterError(ctx, err, "")
	}
	spec.Namespace = c.Namespace
	res := &Result{Namespace: c.Namespace, Name: spec.Name, Image: spec.Image, Context: c.Context, Server: c.Server, DryRun: opts.ServerDryRun}

	secret, how, err := secretValues(ctx, c, spec.Name)
	if err != nil {
		return clusterError(ctx, err, c.Namespace)
	}
	res.Secret = how
	objs, err := kube.Objects(spec, secret)
	if err != nil {
		return cli.UsageError(err)
	}
	plan, err := c.Prepare(ctx, objs, opts.ForceConflicts)
	if err != nil {
		return clusterError(ctx, err, c.Namespace)
	}
	if opts.ServerDryRun {
		res.Objects, res.TookSeconds = plan.Applied, time.Since(began).Seconds()
		return report(opts, res, "validated by the API server (server dry run); nothing was written")
	}
	res.Objects, err = plan.Apply(ctx)
	if err != nil {
		return clusterError(ctx, err, c.Namespace)
	}
	if !opts.Wait {
		res.TookSeconds = time.Since(began).Seconds()
		return report(opts, res, "applied; not waiting for the rollout (--wait=false)")
	}
	printApplied(opts, res)
	return await(ctx, opts, c, res, began)
}

// spec checks every flag and configuration value before anything is asked of a registry or a
// cluster: a bad one is exit 2 in one line.
func (opts *Options) spec(cfg config.Config) (kube.Spec, error) {
	s := kube.Spec{Name: cfg.Container, Publish: cfg.Publish, StorageClass: opts.StorageClass, Startup: opts.Startup}
	for _, kv := range opts.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return s, cli.Usagef("invalid --env %q: accepted: KEY=VALUE", config.RedactEnv(kv))
		}
	}
	s.Env = shared.MergeEnv(cfg.Env, opts.Env)
	q, err := quantity("--storage-size", opts.StorageSize, "10Gi")
	if err != nil {
		return s, err
	}
	s.StorageSize = *q
	if s.CPU, err = quantity("--cpu", opts.CPU, "500m or 2"); err != nil {
		return s, err
	}
	if s.Memory, err = quantity("--memory", opts.Memory, "512Mi or 2Gi"); err != nil {
		return s, err
	}
	if opts.Timeout <= 0 {
		return s, cli.Usagef("invalid --timeout %s: accepted: a positive duration, e.g. 10m", opts.Timeout)
	}
	if opts.RequestTimeout <= 0 {
		return s, cli.Usagef("invalid --request-timeout %s: accepted: a positive duration, e.g. 30s", opts.RequestTimeout)
	}
	// The manifests' own checks (name, namespace, environment) run here too, with a placeholder
	// digest: a bad value is refused before the registry or the cluster is asked.
	probe := s
	probe.Image, probe.Namespace = "check@sha256:"+strings.Repeat("0", 64), opts.Namespace
	if _, err := probe.Check(); err != nil {
		return s, cli.UsageError(err)
	}
	return s, nil
}

// quantity parses a Kubernetes quantity flag; empty is nil.
func quantity(flag, v, example string) (*resource.Quantity, error) {
	if v == "" {
		return nil, nil
	}
	q, err := resource.ParseQuantity(v)
	if err != nil || q.Sign() <= 0 {
		return nil, cli.Usagef("invalid %s %q: accepted: a positive quantity such as %s", flag, clip(v), example)
	}
	return &q, nil
}

// secretValues reads the Secret back and fills in only what it lacks. A missing Secret beside an
// existing data volume is refused: the database there was initialized with the passwords of the
// Secret that is gone, and new ones would be set over it at the next boot.
func secretValues(ctx context.Context, c *kube.Client, name string) (map[string]string, string, error) {
	have, err := c.ReadSecret(ctx, name)
	if err != nil {
		return nil, "", err
	}
	if have == nil {
		data, err := c.HasData(ctx, name)
		if err != nil {
			return nil, "", err
		}
		if data {
			return nil, "", cli.Failed(fmt.Errorf("the Secret %s is missing, but the data volume claim %s exists: its database keeps the passwords it was started with, and deploy does not make new ones under it (nothing was written)", name, kube.DataClaim(name)),
				"create the Secret again with those values (they are in /data/secrets on the volume), or delete the claim to start with empty data")
		}
	}
	values, generated := kube.SecretValues(have)
	switch {
	case have == nil:
		return values, "generated", nil
	case len(generated) > 0:
		return values, "completed", nil
	}
	return values, "kept", nil
}

// clusterError gives each way a cluster call fails its exit code and the way out.
func clusterError(ctx context.Context, err error, ns string) error {
	var ee *cli.ExitError
	switch {
	case errors.As(err, &ee):
		return err
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, kube.ErrNoConfig), errors.Is(err, kube.ErrUnreachable):
		return shared.KubeError(err)
	case errors.Is(err, kube.ErrDenied):
		return cli.Failed(err, fmt.Sprintf("ask for the rights to manage Secrets, Services and StatefulSets in namespace %s, or pick another with --namespace (kubectl auth can-i create statefulsets -n %s)", ns, ns))
	case errors.Is(err, kube.ErrConflict):
		return cli.Failed(err, "another tool or kubectl edit set these fields: pass --force-conflicts to take them over")
	case errors.Is(err, kube.ErrNoNamespace):
		return cli.Failed(err, fmt.Sprintf("create it first (kubectl create namespace %s), or pick another with --namespace", ns))
	}
	return cli.Fail(err)
}

// await waits for the rollout with a live line, then shows the pod's health through a
// port-forward, as `run` shows the container's.
func await(ctx context.Context, opts *Options, c *kube.Client, res *Result, began time.Time) error {
	st := opts.IO.Styles()
	p := opts.IO.StartProgress("waiting for " + res.Name)
	r, err := c.Wait(ctx, res.Name, opts.Timeout, opts.Poll, func(r kube.Rollout) { p.Update("· "+r.Short(), 0, 0) })
	res.Rollout = &r
	res.TookSeconds = time.Since(began).Seconds()
	switch {
	case ctx.Err() != nil:
		p.Stop()
		return ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		p.Fail("")
		if opts.IO.WantsJSON() {
			opts.IO.WriteJSON(res)
		}
		return &cli.ExitError{Code: cli.ExitUnhealthy, Err: fmt.Errorf("statefulset/%s not ready within %s: %s", res.Name, opts.Timeout, r.Line()),
			Hint: fmt.Sprintf("kubectl -n %s describe pod %s-0 says why; the objects stay applied (a later deploy continues)", res.Namespace, res.Name)}
	case err != nil:
		p.Fail("")
		return clusterError(ctx, err, res.Namespace)
	}
	p.Done("")
	pod := res.Name + "-0"
	health := shared.PodHealth(ctx, c, pod)
	res.Health = &health
	if opts.IO.WantsJSON() {
		return opts.IO.WriteJSON(res)
	}
	opts.IO.Printf("%s statefulset/%s is ready in namespace %s (revision %s, %.1fs)\n", st.OK.Render("✓"), res.Name, res.Namespace, r.UpdateRevision, res.TookSeconds)
	if err := shared.PrintHealth(opts.IO, health); err != nil {
		return err
	}
	opts.IO.Printf("%s\n", st.Faint.Render(fmt.Sprintf("  in the cluster: http://%s-health.%s.svc (health), pod %s", res.Name, res.Namespace, pod)))
	return nil
}

// printApplied says what the apply did, one line per object, before the wait.
func printApplied(opts *Options, res *Result) {
	if opts.IO.WantsJSON() {
		return
	}
	st := opts.IO.Styles()
	for _, a := range res.Objects {
		opts.IO.Errorf("%s %s/%s %s\n", st.OK.Render("✓"), strings.ToLower(a.Kind), a.Name, a.Action)
	}
	img := res.Image
	if opts.IO.IsErrTTY() {
		// On a terminal, a digest as docker shortens it: the whole reference overran 80 columns.
		if repo, d, ok := strings.Cut(img, "@"); ok {
			img = repo + "@sha256:" + iostreams.ShortID(d) + "…"
		}
	}
	secret := "Secret " + res.Secret
	if res.DryRun && res.Secret != "kept" {
		secret = "Secret to be " + res.Secret
	}
	opts.IO.Errorf("%s\n", opts.IO.WrapErr("", st.Faint.Render(fmt.Sprintf("image %s, namespace %s, context %s, %s", img, res.Namespace, res.Context, secret))))
}

// report ends a deploy that does not wait: what was applied (or validated), or the JSON.
func report(opts *Options, res *Result, closing string) error {
	if opts.IO.WantsJSON() {
		return opts.IO.WriteJSON(res)
	}
	printApplied(opts, res)
	opts.IO.Errorf("%s\n", closing)
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
