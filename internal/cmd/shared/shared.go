// Package shared holds what several container commands (run, up, start, restart, health, status,
// env, psql, ...) have in common, so that no command imports another: the flags they declare alike,
// the health report and its rendering, the wait until healthy, how to reach the published
// services, and the one-line errors with their hints. It is cli/cli's pkg/cmd/<group>/shared.
package shared

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/spf13/cobra"
)

// AddContainerFlag declares --container, bound to the configuration key, on a command that acts on
// the existing container. It is the one declaration of that flag.
func AddContainerFlag(f *cli.Factory, cmd *cobra.Command) {
	cmd.Flags().String("container", "", "container name (default from the configuration)")
	f.BindFlag("container", cmd.Flags().Lookup("container"))
	cmd.RegisterFlagCompletionFunc("container", func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		return containerNames(cmd.Context(), f.Engine), cobra.ShellCompDirectiveNoFileComp
	})
}

// FlagsAfterDashes makes a flag nixify does not know a usage error saying that what (the client's
// own flags) goes after --, with example as the hint: the flag was meant for the program run.
func FlagsAfterDashes(cmd *cobra.Command, what, example string) {
	cmd.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		if msg := err.Error(); strings.HasPrefix(msg, "unknown") {
			return &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("%s: %s go after --", msg, what), Hint: "for example: " + example}
		}
		return cli.FlagError(cmd, err)
	})
}

// containerNames lists nixify's containers on the engine, for completion; nothing when the engine
// does not answer.
func containerNames(ctx context.Context, open func() (engine.Engine, error)) []string {
	if ctx == nil {
		ctx = context.Background()
	}
	eng, err := open()
	if err != nil {
		return nil
	}
	defer eng.Close()
	list, err := eng.ContainerList(ctx, container.LabelManaged, "true")
	if err != nil {
		return nil
	}
	var names []string
	for _, c := range list {
		names = append(names, c.Name+"\t"+c.State)
	}
	return names
}

// Existing is nixify's container found by the configured name, with the engine to act on it.
type Existing struct {
	Config    config.Config
	Engine    engine.Engine
	Container engine.Container
}

// Close releases the engine connection.
func (x *Existing) Close() { x.Engine.Close() }

// Connect loads the configuration and connects to the engine, which answers: what every command
// on the container does first.
func Connect(ctx context.Context, loadConfig func() (*config.Loaded, error), open func() (engine.Engine, error)) (config.Config, engine.Engine, error) {
	l, err := loadConfig()
	if err != nil {
		return config.Config{}, nil, err
	}
	eng, err := container.Connect(ctx, open)
	return l.Config, eng, err
}

// FindContainer loads the configuration, connects to the engine and inspects the configured
// container. No container is exit 3 (not running, as the README's table has it) with "nixify run"
// as the way out; a container nixify did not make is refused.
func FindContainer(ctx context.Context, loadConfig func() (*config.Loaded, error), open func() (engine.Engine, error)) (*Existing, error) {
	cfg, eng, err := Connect(ctx, loadConfig, open)
	if err != nil {
		return nil, err
	}
	name := cfg.Container
	c, err := eng.ContainerInspect(ctx, name)
	if err != nil {
		eng.Close()
		if errors.Is(err, engine.ErrNotFound) {
			return nil, NoContainer(name, "start one with `nixify run`")
		}
		return nil, EngineError(err)
	}
	if !container.Managed(c.Labels) {
		eng.Close()
		return nil, cli.Failed(fmt.Errorf("container %q is %w", name, container.ErrNotOurs), "nixify acts only on the containers it made; choose another name with --container")
	}
	return &Existing{Config: cfg, Engine: eng, Container: c}, nil
}

// NoContainer is the error of every command that needs the configured container when there is
// none: exit 3, the code for "not running", so scripts read one answer from all of them.
func NoContainer(name, hint string) error {
	return &cli.ExitError{Code: cli.ExitUnhealthy, Err: fmt.Errorf("no container %q", name), Hint: hint}
}

// EngineError maps an engine failure to its exit code: 4 when the engine is out of reach, 130 when
// interrupted, 1 otherwise.
func EngineError(err error) error {
	switch {
	case errors.Is(err, engine.ErrUnavailable):
		return cli.EngineUnreachable(err)
	case errors.Is(err, context.Canceled):
		return err
	}
	return cli.Fail(err)
}

// RequireRunning refuses a container that is not running, with the command that starts it.
func RequireRunning(c engine.Container) error {
	if c.Running {
		return nil
	}
	return &cli.ExitError{Code: cli.ExitUnhealthy, Err: fmt.Errorf("container %q is not running (%s)", c.Name, c.State), Hint: "start it with `nixify start`"}
}
