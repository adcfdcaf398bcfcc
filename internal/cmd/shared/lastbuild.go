package shared

import (
	"errors"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/record"
)

// LastBuild is the last build of a from the state directory's record: the one way every command
// (run, up, info, push, sbom) finds it. Without one the error says how to build it (exit 1), and
// hint what else the command takes; a damaged record is a bad file (exit 2).
func LastBuild(stateDir string, a arch.Arch, hint string) (record.Build, error) {
	b, err := record.Store{Dir: stateDir}.Latest(a)
	switch {
	case err == nil:
		return b, nil
	case errors.Is(err, record.ErrNoBuild):
		return b, cli.Failed(err, hint)
	case errors.Is(err, record.ErrDamaged):
		return b, cli.UsageError(err)
	}
	return b, cli.Fail(err)
}

// Recorded is every build the record names, for image.Parse: a stream script is run only when
// one of them names it. An unreadable record names none.
func Recorded(stateDir string) []record.Build {
	all, _ := record.Store{Dir: stateDir}.All()
	return all
}

// ParseImage is image.Parse for what a user named on the command line: a stream script is
// trusted when the configured state directory's record names it (no configuration: none is), and
// what cannot be an image is a usage error (exit 2).
func ParseImage(arg string, loadConfig func() (*config.Loaded, error)) (image.Ref, error) {
	var builds []record.Build
	if loadConfig != nil {
		if l, err := loadConfig(); err == nil {
			builds = Recorded(l.Config.StateDir)
		}
	}
	ref, err := image.Parse(arg, builds...)
	if err != nil {
		return ref, cli.UsageError(err)
	}
	return ref, nil
}
