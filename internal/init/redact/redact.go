// Package redact hides secrets in text the init shows: its log, the health output, errors. A
// secret of initenv.MinSecret characters or more is replaced wherever it occurs; a shorter one (the
// init refuses such given secrets, but a caller may hold one) only where it stands as a whole
// token, so that hiding it never reveals it: "o" would otherwise turn "postgres" into
// "p[redacted]stgres" and give the password away.
package redact

import "strings"

// Mark is what replaces a secret.
const Mark = "[redacted]"

// minAnywhere is the length from which a secret is replaced wherever it occurs (initenv.MinSecret,
// which cannot be imported from here without a cycle of meaning; the tests hold them equal).
const minAnywhere = 12

// String returns s with every secret hidden.
func String(s string, secrets ...string) string {
	for _, sec := range secrets {
		switch {
		case sec == "":
		case len(sec) >= minAnywhere:
			s = strings.ReplaceAll(s, sec, Mark)
		default:
			s = wholeTokens(s, sec)
		}
	}
	return s
}

// wholeTokens replaces the occurrences of sec that no letter, digit or '_' touches on either side.
func wholeTokens(s, sec string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, sec)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := i + len(sec)
		if (i == 0 || !word(s[i-1])) && (j == len(s) || !word(s[j])) {
			b.WriteString(s[:i])
			b.WriteString(Mark)
		} else {
			b.WriteString(s[:j])
		}
		s = s[j:]
	}
}

func word(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c >= 0x80
}
