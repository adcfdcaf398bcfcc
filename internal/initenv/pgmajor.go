package initenv

import "strings"

// PGMajor is the major version of a PostgreSQL version, as PG_VERSION spells it: "15" of "15.14",
// "17" of "17beta1", "9.6" of "9.6.24" (before 10 the major had two numbers).
func PGMajor(version string) string {
	end := strings.IndexFunc(version, func(r rune) bool { return r != '.' && (r < '0' || r > '9') })
	if end >= 0 {
		version = version[:end]
	}
	parts := strings.Split(version, ".")
	if len(parts[0]) == 1 && len(parts) > 1 { // 6.x to 9.x
		return parts[0] + "." + parts[1]
	}
	return parts[0]
}
