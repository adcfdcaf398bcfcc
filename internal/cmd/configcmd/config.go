// Package configcmd implements `nixify config`: the effective configuration and where each value
// came from.
package configcmd

import (
	"fmt"
	"strings"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/spf13/cobra"
)

// Options is what `nixify config` needs.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)
}

// NewCmdConfig wires the command; runF replaces the run function in tests.
func NewCmdConfig(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config}
	return &cobra.Command{
		Use:   "config",
		Short: "Show the effective configuration and where each value comes from",
		Long: `Show the effective configuration. Precedence: command-line flags, then NIXIFY_* environment
variables (NIXIFY_PORT, NIXIFY_IMAGE, ...), then the config file (./nixify.yaml, then
$XDG_CONFIG_HOME/nixify/nixify.yaml), then defaults.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return configRun(opts)
		},
	}
}

type entry struct {
	Key    string        `json:"key"`
	Value  any           `json:"value"`
	Origin config.Origin `json:"origin"`
	Env    string        `json:"env"`
	Help   string        `json:"help"`
}

func configRun(opts *Options) error {
	l, err := opts.Config()
	if err != nil {
		return err
	}
	values := map[string]any{
		"flake": l.Config.Flake, "attr": l.Config.Attr, "image": l.Config.Image, "container": l.Config.Container,
		"port": l.Config.Port, "bind": l.Config.Bind, "volume": l.Config.Volume, "repo": l.Config.Repo,
		"architectures": l.Config.Architectures, "docker_host": l.Config.DockerHost, "state_dir": l.Config.StateDir,
		"env": envKeys(l.Config.Env), "publish": publishItems(l.Config.Publish),
	}
	var entries []entry
	for _, k := range config.Keys {
		entries = append(entries, entry{Key: k.Name, Value: values[k.Name], Origin: l.Origins[k.Name], Env: config.EnvName(k.Name), Help: k.Help})
	}
	if opts.IO.WantsJSON() {
		return opts.IO.WriteJSON(struct {
			File    string  `json:"file"`
			Entries []entry `json:"entries"`
		}{l.File, entries})
	}
	st := opts.IO.Styles()
	t := opts.IO.NewTable("key", "value", "source")
	for _, e := range entries {
		val := fmt.Sprint(e.Value)
		switch list := e.Value.(type) {
		case []string:
			val = strings.Join(list, ",")
		case []arch.Arch:
			val = strings.Join(arch.Strings(list), ",") // as the key is written, not [x86_64 aarch64]
		}
		src := string(e.Origin.Source)
		if e.Origin.Detail != "" {
			src += " " + e.Origin.Detail
		}
		t.Row(e.Key, val, st.Faint.Render(src))
	}
	t.Render()
	return nil
}

// envKeys shows the container environment by key only: values may be passwords.
func envKeys(env []string) []string {
	keys := []string{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		keys = append(keys, k+"=…")
	}
	return keys
}

func publishItems(ps []config.Publish) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}
