// Package cli holds what every nixify command shares: the Factory that hands out streams,
// configuration and clients, and the exit codes with the errors that carry them.
package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/nixify/nixify/internal/engine"
	"github.com/spf13/cobra"
)

// Exit codes, documented in the README. Scripts may rely on them.
const (
	ExitOK          = 0   // success
	ExitFailure     = 1   // the operation failed (build failed, push rejected, doctor found a blocker)
	ExitUsage       = 2   // bad flag, argument, configuration value or file
	ExitUnhealthy   = 3   // the container runs but is not healthy (health, run, up)
	ExitUnavailable = 4   // a required peer cannot be reached: Docker engine, nix, registry
	ExitInterrupted = 130 // stopped by Ctrl-C / SIGINT
)

// YAMLOutput is the cobra annotation of a command that accepts --output yaml.
const YAMLOutput = "nixify/output-yaml"

// ExitError is an error that decides the process's exit code and may carry a hint for the user.
type ExitError struct {
	Code int
	Err  error
	Hint string
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// UsageError marks err as the user's input being wrong (exit 2).
func UsageError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// Usagef is UsageError with formatting.
func Usagef(format string, a ...any) error { return UsageError(fmt.Errorf(format, a...)) }

// Unavailable marks err as a peer being out of reach (exit 4), with how to fix it.
func Unavailable(err error, hint string) error {
	return &ExitError{Code: ExitUnavailable, Err: err, Hint: hint}
}

// EngineHint is what to do when the Docker engine cannot be reached.
const EngineHint = "run `nixify doctor` to see how to reach the Docker engine"

// EngineUnreachable marks err as the Docker engine being out of reach (exit 4), with EngineHint.
func EngineUnreachable(err error) error { return Unavailable(err, EngineHint) }

// Fail marks err as the operation failing (exit 1); the error says all there is to say.
func Fail(err error) error { return &ExitError{Code: ExitFailure, Err: err} }

// Failed marks err as the operation failing (exit 1), with a hint saying what to do about it.
func Failed(err error, hint string) error { return &ExitError{Code: ExitFailure, Err: err, Hint: hint} }

// FlagError makes cobra's flag parsing errors usage errors (exit 2) that point at the command's help.
func FlagError(c *cobra.Command, err error) error {
	return UsageError(fmt.Errorf("%w (see `%s --help`)", err, c.CommandPath()))
}

// Silent is an exit code without a message: the command already said everything.
func Silent(code int) error { return &ExitError{Code: code, Err: errSilent} }

var errSilent = errors.New("")

// IsSilent reports whether err carries nothing to print.
func IsSilent(err error) bool { return errors.Is(err, errSilent) }

// Code returns the exit code for err: ExitError's own, 4 for an engine out of reach (the libraries
// below the commands say so with engine.ErrUnavailable and know nothing of exit codes), 130 for
// cancellation, 1 otherwise.
func Code(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if errors.Is(err, engine.ErrUnavailable) {
		return ExitUnavailable
	}
	if errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	return ExitFailure
}

// Hint returns the hint carried by err, if any.
func Hint(err error) string {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Hint
	}
	if errors.Is(err, engine.ErrUnavailable) {
		return EngineHint
	}
	return ""
}
