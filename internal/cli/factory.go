package cli

import (
	"os"
	"sync"

	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/spf13/pflag"
)

// Factory gives commands what they need, lazily, so that `nixify version` never touches the
// configuration file and `nixify build` never dials the Docker engine.
type Factory struct {
	IO         *iostreams.IOStreams
	Getenv     func(string) string
	ConfigFile string // --config
	WorkDir    string // where ./nixify.yaml is looked for; empty means the working directory

	flags map[string][]*pflag.Flag

	once   sync.Once
	loaded *config.Loaded
	err    error
}

// NewFactory returns a factory bound to the process's streams and environment.
func NewFactory() *Factory {
	return &Factory{IO: iostreams.System(), Getenv: os.Getenv}
}

// BindFlag makes a command-line flag override the configuration key when it is set.
func (f *Factory) BindFlag(key string, fl *pflag.Flag) {
	if f.flags == nil {
		f.flags = map[string][]*pflag.Flag{}
	}
	f.flags[key] = append(f.flags[key], fl)
}

// Config loads and validates the configuration once; a bad value is a usage error (exit 2).
func (f *Factory) Config() (*config.Loaded, error) {
	f.once.Do(func() {
		// Only the command being run has parsed its flags; pick, per key, the flag that was set.
		set := map[string]*pflag.Flag{}
		for key, fls := range f.flags {
			for _, fl := range fls {
				if fl.Changed {
					set[key] = fl
				}
			}
		}
		f.loaded, f.err = config.Load(config.Options{File: f.ConfigFile, Flags: set, Getenv: f.Getenv, WorkDir: f.WorkDir})
		if f.err != nil {
			f.err = UsageError(f.err)
		}
	})
	return f.loaded, f.err
}

// Engine resolves the Docker endpoint (configuration, DOCKER_HOST, docker context) and connects.
// A failure is ExitUnavailable with a pointer to `nixify doctor`.
func (f *Factory) Engine() (engine.Engine, error) {
	l, err := f.Config()
	if err != nil {
		return nil, err
	}
	ep, err := engine.ResolveEndpoint(l.Config.DockerHost, f.Getenv)
	if err != nil {
		return nil, EngineUnreachable(err)
	}
	e, err := engine.New(ep)
	if err != nil {
		return nil, EngineUnreachable(err)
	}
	return e, nil
}
