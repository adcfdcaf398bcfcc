package pgwire

import (
	"github.com/jackc/pgx/v5/pgproto3"
)

// Error is an ErrorResponse from the server. Code is the SQLSTATE (28P01 wrong password, 3D000 no
// such database, 42601 syntax error, 57P03 starting up, ...). PostgreSQL never puts the password
// in these messages: it never sees it in clear with SCRAM or MD5, and does not echo it otherwise.
type Error struct {
	Severity string // ERROR, FATAL or PANIC
	Code     string
	Message  string
	Detail   string
	Hint     string
}

func (e *Error) Error() string {
	return e.Severity + ": " + e.Message + " (SQLSTATE " + e.Code + ")"
}

// fatal reports whether the server ends the session after this error.
func (e *Error) fatal() bool { return e.Severity == "FATAL" || e.Severity == "PANIC" }

func serverError(m *pgproto3.ErrorResponse) *Error {
	// SeverityUnlocalized (V) is never translated; S may be, depending on lc_messages.
	sev := m.SeverityUnlocalized
	if sev == "" {
		sev = m.Severity
	}
	return &Error{Severity: sev, Code: m.Code, Message: m.Message, Detail: m.Detail, Hint: m.Hint}
}
