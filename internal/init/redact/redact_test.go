package redact

import (
	"testing"

	"github.com/nixify/nixify/internal/initenv"
)

// TestRedactionRevealsNoPiece: a one-letter password used to be replaced inside every word, so the
// log read "p[redacted]stgres" and gave the password away (issue 21). A short secret is hidden only
// as a whole token; a long one wherever it occurs.
func TestRedactionRevealsNoPiece(t *testing.T) {
	for _, tc := range []struct{ in, secret, want string }{
		{"postgres | database system is ready", "o", "postgres | database system is ready"},
		{"AUTH o failed", "o", "AUTH [redacted] failed"},
		{`requirepass "o"`, "o", `requirepass "[redacted]"`},
		{"o", "o", "[redacted]"},
		{"redis://:pw@host ready", "pw", "redis://:[redacted]@host ready"},
		{"keypw-long-secret-1glued", "pw-long-secret-1", "key[redacted]glued"},
		{"échelle é", "é", "échelle [redacted]"},
	} {
		if got := String(tc.in, tc.secret); got != tc.want {
			t.Errorf("String(%q, %q) = %q, want %q", tc.in, tc.secret, got, tc.want)
		}
	}
	if minAnywhere != initenv.MinSecret {
		t.Fatalf("minAnywhere %d, initenv.MinSecret %d: keep them equal", minAnywhere, initenv.MinSecret)
	}
}
