package registryclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

var (
	// ErrUnreachable means the registry could not be asked: no connection, no answer in time, or
	// something that is not a registry answered.
	ErrUnreachable = errors.New("registry unreachable")
	// ErrNotFound means the registry answered that the tag, digest or repository does not exist.
	ErrNotFound = errors.New("not found in the registry")
	// ErrDenied means the registry refused the credentials.
	ErrDenied = errors.New("registry refused the credentials")
)

// Error is a registry failure told in one line; errors.Is matches its Kind.
type Error struct {
	Kind error // ErrUnreachable, ErrNotFound, ErrDenied or nil
	msg  string
	err  error
}

func (e *Error) Error() string        { return e.msg }
func (e *Error) Is(target error) bool { return e.Kind != nil && target == e.Kind }
func (e *Error) Unwrap() error        { return e.err }

// Explain turns a go-containerregistry error from doing what into one line: what failed, which
// registry, and why, without the registry's response body (an HTML page is not a reason) and
// without the password.
func (c *Client) Explain(what string, err error) error {
	if err == nil {
		return nil
	}
	var told *Error
	if errors.As(err, &told) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err // explained already, or not the registry's doing
	}
	host := c.Repo.RegistryStr()
	e := &Error{err: err}
	var te *transport.Error
	var stall *StallError
	var ne net.Error
	var oe *net.OpError
	var de *net.DNSError
	var ue *url.Error
	switch {
	case errors.As(err, &stall):
		e.Kind, e.msg = ErrUnreachable, fmt.Sprintf("%s: %s", what, stall.Error())
	case errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden):
		e.Kind, e.msg = ErrDenied, fmt.Sprintf("%s: %s refused the credentials (tried: %s): %s", what, host, c.source, c.scrub(diagnostics(te)))
	case errors.As(err, &te) && notFound(te):
		e.Kind, e.msg = ErrNotFound, fmt.Sprintf("%s: %s", what, c.scrub(diagnostics(te)))
	case errors.As(err, &te) && len(te.Errors) == 0 && te.StatusCode != http.StatusTooManyRequests && te.StatusCode < 500:
		// A registry answers errors in its JSON form; anything else is another kind of server.
		e.Kind, e.msg = ErrUnreachable, fmt.Sprintf("%s: %s answered HTTP %d %s, not as a registry does", what, host, te.StatusCode, http.StatusText(te.StatusCode))
	case errors.As(err, &te):
		e.msg = fmt.Sprintf("%s: %s: %s", what, host, c.scrub(diagnostics(te)))
	case errors.As(err, &de):
		e.Kind, e.msg = ErrUnreachable, fmt.Sprintf("%s: cannot resolve %s: %s", what, host, de.Err)
	case errors.As(err, &oe) && oe.Op == "dial":
		e.Kind, e.msg = ErrUnreachable, fmt.Sprintf("%s: cannot connect to %s: %v", what, host, oe.Err)
	case errors.As(err, &ne) && ne.Timeout():
		e.Kind, e.msg = ErrUnreachable, fmt.Sprintf("%s: %s did not answer in time", what, host)
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		e.Kind, e.msg = ErrUnreachable, fmt.Sprintf("%s: %s (or something between) reset the connection", what, host)
	case errors.As(err, &ue):
		// Never the URL: an upload's carries the registry's upload state.
		e.msg = fmt.Sprintf("%s: %s %s: %s", what, ue.Op, host, c.scrub(strings.TrimSpace(ue.Err.Error())))
	default:
		e.msg = fmt.Sprintf("%s: %s", what, c.scrub(strings.TrimSpace(err.Error())))
		if strings.Contains(e.msg, "http: server gave HTTP response to HTTPS client") || strings.Contains(e.msg, "malformed HTTP response") {
			e.Kind = ErrUnreachable
		}
	}
	// One line: whatever a registry or the network put after a newline is not the reason.
	e.msg, _, _ = strings.Cut(e.msg, "\n")
	return e
}

func notFound(te *transport.Error) bool {
	for _, d := range te.Errors {
		switch d.Code {
		case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
			return true
		}
	}
	return te.StatusCode == http.StatusNotFound && len(te.Errors) > 0
}

// diagnostics is the registry's own error messages, or the status.
func diagnostics(te *transport.Error) string {
	var parts []string
	for _, d := range te.Errors {
		s := string(d.Code)
		if d.Message != "" {
			s += ": " + d.Message
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return fmt.Sprintf("HTTP %d %s", te.StatusCode, http.StatusText(te.StatusCode))
	}
	return strings.Join(parts, "; ")
}

// scrub removes the password from an error text, in case a registry echoes it.
func (c *Client) scrub(s string) string {
	if c.o.creds != nil && c.o.creds.Password != "" {
		s = strings.ReplaceAll(s, c.o.creds.Password, "***")
	}
	return s
}
