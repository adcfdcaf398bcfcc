// Package status implements `nixify status` (alias ps): the container's state and uptime, the
// image and the build it came from, what it publishes, and each service's health, state and
// restart count.
package status

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/record"
	"github.com/spf13/cobra"
)

// Options is what `nixify status` needs.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)
	Engine func() (engine.Engine, error)
	Now    func() time.Time
	Kube   shared.KubeTarget
}

// NewCmdStatus wires the command; runF replaces the run function in tests.
func NewCmdStatus(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine, Now: time.Now}
	cmd := &cobra.Command{
		Use:     "status",
		Aliases: []string{"ps"},
		Short:   "Show the container: state, uptime, image and build, published ports, services",
		Long: `Show nixify's container: its state and uptime, the image it runs and the build that made
it (architecture, flake revision, build time, from the build records), what it publishes and how
to connect, and for each service its health, the supervisor's state and its restart count.

--kube shows the StatefulSet that nixify deploy made instead (--context, --namespace, as deploy
takes them): its revision, where its pod stands, and the pod's health through a port-forward.

Exit codes: 0 running and healthy; 3 not running, not healthy or no such container; 4 the
Docker engine cannot be reached. In JSON the architecture is "architecture" with the OCI name
(amd64, arm64), as info says it.`,
		Example: `  nixify status
  nixify ps -o json
  nixify status --kube --namespace apps`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			if opts.Kube.On {
				return kubeStatusRun(cmd.Context(), opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	shared.AddContainerFlag(f, cmd)
	shared.AddKubeFlags(cmd, &opts.Kube)
	return cmd
}

// Status is what the command reports.
type Status struct {
	Container     string               `json:"container"`
	ID            string               `json:"id"`
	State         string               `json:"state"`
	Running       bool                 `json:"running"`
	StartedAt     time.Time            `json:"startedAt,omitzero"`
	UptimeSeconds float64              `json:"uptimeSeconds"`
	ExitCode      int                  `json:"exitCode"`
	Image         string               `json:"image"`
	ImageNames    []string             `json:"imageNames"`
	Architecture  string               `json:"architecture,omitempty"` // OCI's name: amd64, arm64
	Build         *Build               `json:"build,omitempty"`
	Ports         []engine.PortBinding `json:"ports"`
	Published     []shared.Connection  `json:"published"`
	Health        shared.Report        `json:"health"`
}

// Build is the recorded build the image came from.
type Build struct {
	Arch          arch.Arch `json:"-"`
	Architecture  string    `json:"architecture"` // OCI's name: amd64, arm64
	Flake         string    `json:"flake"`
	FlakeRevision string    `json:"flakeRevision,omitempty"`
	BuiltAt       time.Time `json:"builtAt,omitzero"`
}

func statusRun(ctx context.Context, opts *Options) error {
	x, err := shared.FindContainer(ctx, opts.Config, opts.Engine)
	if err != nil {
		return err
	}
	defer x.Close()
	st := Collect(ctx, x, opts.Now())
	if opts.IO.WantsJSON() {
		if err := opts.IO.WriteJSON(st); err != nil {
			return err
		}
	} else {
		Print(opts.IO, st, opts.Now())
	}
	if !st.Running || !st.Health.Healthy {
		return cli.Silent(cli.ExitUnhealthy)
	}
	return nil
}

// Collect gathers the status of the found container: the engine's view, the build records, and
// the health server's answer.
func Collect(ctx context.Context, x *shared.Existing, now time.Time) Status {
	c := x.Container
	st := Status{Container: c.Name, ID: c.ID, State: c.State, Running: c.Running, ExitCode: c.ExitCode, Image: c.Image,
		ImageNames: []string{}, Architecture: ociArch(c.Labels[container.LabelArch]), Ports: c.Ports, Published: shared.Connections(c, x.Engine.Endpoint())}
	if st.Ports == nil {
		st.Ports = []engine.PortBinding{}
	}
	if c.Running {
		st.StartedAt, st.UptimeSeconds = c.StartedAt, now.Sub(c.StartedAt).Seconds()
	}
	if img, err := x.Engine.ImageInspect(ctx, c.Image); err == nil && img.RepoTags != nil {
		st.ImageNames = img.RepoTags
	}
	st.Build = buildOf(x.Config.StateDir, c.Image)
	st.Health = shared.Collect(ctx, c, x.Engine.Endpoint())
	return st
}

// buildOf finds the build record whose image is the container's, nil when none is (an image
// run with --tar or --image, or records cleaned since).
func buildOf(stateDir, imageID string) *Build {
	builds, err := record.Store{Dir: stateDir}.All()
	if err != nil {
		return nil
	}
	for _, b := range builds {
		if b.ConfigDigest == imageID {
			return &Build{Arch: b.Arch, Architecture: b.Arch.GOARCH(), Flake: b.Flake, FlakeRevision: b.FlakeRevision, BuiltAt: b.BuiltAt}
		}
	}
	return nil
}

// portsLine writes the published ports once per host address ("127.0.0.1: 8080->80, 5432->5432"):
// the address repeated for each port pushed four ports past 80 columns.
func portsLine(ports []engine.PortBinding) string {
	var hosts []string
	byHost := map[string][]string{}
	for _, p := range ports {
		if _, ok := byHost[p.HostIP]; !ok {
			hosts = append(hosts, p.HostIP)
		}
		byHost[p.HostIP] = append(byHost[p.HostIP], fmt.Sprintf("%d->%d", p.HostPort, p.ContainerPort))
	}
	groups := make([]string, 0, len(hosts))
	for _, h := range hosts {
		groups = append(groups, h+": "+strings.Join(byHost[h], ", "))
	}
	return strings.Join(groups, "; ")
}

// Print writes the status for a person: a few key lines, then the services' table.
func Print(io *iostreams.IOStreams, s Status, now time.Time) {
	sty := io.Styles()
	state := sty.Status(s.State)
	if s.Running {
		state += " for " + Ago(now.Sub(s.StartedAt))
	} else {
		state += fmt.Sprintf(" (exit code %d)", s.ExitCode)
	}
	line := func(k, v string) { io.Printf("%-10s %s\n", k+":", v) }
	line("container", s.Container+" "+state)
	image := iostreams.ShortID(s.Image)
	if n := shared.ImageName(s.ImageNames); n != "" {
		image += " (" + n + ")"
	}
	line("image", image)
	if b := s.Build; b != nil {
		rev := cmp.Or(b.FlakeRevision, "no revision (dirty tree)")
		line("build", fmt.Sprintf("%s, %s, built %s ago", b.Arch, rev, Ago(now.Sub(b.BuiltAt))))
	} else {
		line("build", sty.Faint.Render("no build record for this image (run with --tar or --image?)"))
	}
	line("ports", portsLine(s.Ports))
	if s.Health.URL != "" {
		line("health", s.Health.URL)
	}
	if s.Running {
		// A stopped container's addresses answer nothing: `nixify start` comes first.
		shared.PrintConnections(io, s.Published)
	}
	if len(s.Health.Services) > 0 {
		t := io.NewTable("service", "health", "state", "since", "restarts", "latency", "message")
		for _, svc := range s.Health.Services {
			since := "-"
			if !svc.Since.IsZero() {
				since = Ago(now.Sub(svc.Since))
			}
			health, latency := sty.Status(string(svc.Status)), shared.Millis(svc.LatencySeconds)
			if svc.Disabled {
				health, latency = sty.Status("disabled"), "-"
			}
			t.Row(svc.Name, health, sty.Status(svc.State), since, fmt.Sprint(svc.Restarts), latency, svc.Message)
		}
		t.Render()
	}
	io.Printf("%s\n", io.WrapOut("", shared.Verdict(s.Health, sty)))
}

// Ago shows a duration the way uptimes are read: 45s, 12m, 3h5m, 2d4h.
func Ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// ociArch is the label's Nix name (x86_64) as OCI says it (amd64); "" stays "".
func ociArch(label string) string {
	if label == "" {
		return ""
	}
	return arch.Arch(label).GOARCH()
}
