package cli

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// The README's exit-code table is a contract with scripts: each constructor and each wrapping of
// an error must keep its code and hint.
func TestExitCodesFollowTheREADME(t *testing.T) {
	cause := errors.New("cause")
	for _, c := range []struct {
		name string
		err  error
		code int
		hint string
	}{
		{"success", nil, 0, ""},
		{"plain error", cause, 1, ""},
		{"fail", Fail(cause), 1, ""},
		{"failed with hint", Failed(cause, "do this"), 1, "do this"},
		{"usage", UsageError(cause), 2, ""},
		{"usagef", Usagef("bad %q", "x"), 2, ""},
		{"unhealthy", &ExitError{Code: ExitUnhealthy, Err: cause}, 3, ""},
		{"unavailable", Unavailable(cause, "start it"), 4, "start it"},
		{"engine", EngineUnreachable(cause), 4, EngineHint},
		{"interrupted", context.Canceled, 130, ""},
		{"interrupted, wrapped", fmt.Errorf("build: %w", context.Canceled), 130, ""},
		{"timeout is a failure, not an interrupt", context.DeadlineExceeded, 1, ""},
		{"wrapped exit error keeps its code and hint", fmt.Errorf("push: %w", Unavailable(cause, "login")), 4, "login"},
		{"an exit error decides over a cancellation inside it", UsageError(fmt.Errorf("x: %w", context.Canceled)), 2, ""},
		{"silent", Silent(3), 3, ""},
	} {
		if got := Code(c.err); got != c.code {
			t.Errorf("%s: Code = %d, want %d", c.name, got, c.code)
		}
		if got := Hint(c.err); got != c.hint {
			t.Errorf("%s: Hint = %q, want %q", c.name, got, c.hint)
		}
	}
	for code, want := range map[int]int{ExitOK: 0, ExitFailure: 1, ExitUsage: 2, ExitUnhealthy: 3, ExitUnavailable: 4, ExitInterrupted: 130} {
		if code != want {
			t.Errorf("exit code constant %d is %d in the README", code, want)
		}
	}
}

func TestSilentHasNothingToPrintAndOthersKeepTheirMessage(t *testing.T) {
	if !IsSilent(Silent(1)) || IsSilent(Fail(errors.New("x"))) {
		t.Fatal("IsSilent")
	}
	if got := Failed(errors.New("no tag nope in REPO"), "hint").Error(); got != "no tag nope in REPO" {
		t.Fatalf("Error() = %q: the hint must not be part of the message", got)
	}
}
