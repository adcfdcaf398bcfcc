package initenv

import (
	"fmt"
	"net"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// reader reads variables with one rule for all of them: surrounding blanks are dropped (secrets
// are taken as given), an unset or blank variable takes its default, and every problem is collected
// so that one run names them all.
type reader struct {
	getenv func(string) string
	errs   []string
}

func (r *reader) fail(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *reader) get(k, def string) string {
	if v := strings.TrimSpace(r.getenv(k)); v != "" {
		return v
	}
	return def
}

// maxSecret bounds a given secret: the services take far less, and a huge value would only fill
// configuration files and memory.
const maxSecret = 4096

// MinSecret is the shortest password or token the init accepts from the environment. A shorter
// one is guessed quickly and, being a common string, cannot be hidden in the log without revealing
// it (package redact). Generated ones are 26 characters.
const MinSecret = 12

// secret reads a secret taken as given. An error names the variable and the length, never the
// value or a piece of it.
func (r *reader) secret(k string) string {
	v := r.getenv(k)
	if len(v) > maxSecret {
		r.fail("%s is %d bytes long: use at most %d", k, len(v), maxSecret)
	}
	return v
}

// password reads a password or token: a secret of at least MinSecret characters.
func (r *reader) password(k string) string {
	v := r.secret(k)
	if n := utf8.RuneCountInString(v); v != "" && n < MinSecret {
		r.fail("%s is shorter than %d characters (length %d): use at least %d, or leave it unset to have one generated", k, MinSecret, n, MinSecret)
	}
	return v
}

func (r *reader) port(k string, def int) int {
	v := r.get(k, strconv.Itoa(def))
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		r.fail("%s=%q is not a port: use a number from 1 to 65535", k, clip(v))
	}
	return n
}

func (r *reader) count(k string, def int) int {
	v := r.get(k, strconv.Itoa(def))
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		r.fail("%s=%q is not a count: use a whole number, 0 or more", k, clip(v))
	}
	return n
}

// duration accepts Go's spelling (500ms, 5s, 2m) or a bare number of seconds, as compose files
// often write it, from lo to hi.
func (r *reader) duration(k string, def, lo, hi time.Duration) time.Duration {
	v := r.get(k, def.String())
	d, err := time.ParseDuration(v)
	if err != nil {
		if n, nerr := strconv.ParseFloat(v, 64); nerr == nil && n < 1e9 {
			d, err = time.Duration(n*float64(time.Second)), nil
		}
	}
	switch {
	case err != nil || d <= 0:
		r.fail("%s=%q is not a positive duration: use for example 500ms, 5s, 2m or 5 (seconds)", k, clip(v))
	case d < lo || d > hi:
		r.fail("%s=%q is out of bounds: use from %s to %s", k, clip(v), short(lo), short(hi))
	default:
		return d
	}
	return 0 // refused: nothing else is judged by it
}

// short writes a round duration the way people do: 1h, 24h, 1m rather than 1h0m0s.
func short(d time.Duration) string {
	return strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "0m")
}

var (
	safePath   = regexp.MustCompile(`^/[A-Za-z0-9._/-]*$`)
	hostLabel  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	accessKey  = regexp.MustCompile(`^GK[0-9a-f]{24}$`)
	secretKey  = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// roleName is what PostgreSQL takes as a plain (unquoted) identifier, less "$": a name that
	// needs no quoting in psql, URLs or pg_ident.conf.
	roleName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
)

// path accepts an absolute path of plain characters: it is written into redis.conf and
// garage.toml and passed to PostgreSQL, where a blank, quote or newline would change their meaning.
// It comes back cleaned ("/data/" and "/x/../data" are "/data").
func (r *reader) path(k, def string) string {
	v := r.get(k, def)
	if !safePath.MatchString(v) || len(v) > 200 {
		r.fail("%s=%q is not a usable directory: use an absolute path of letters, digits, '.', '_', '-' and '/'", k, clip(v))
		return v
	}
	return path.Clean(v)
}

// systemDirs are directories the init must never take for its own (it creates, chowns and chmods
// its directories 0700): none of them, and nothing inside the ones marked true, where the system's
// own files live.
var systemDirs = map[string]bool{
	"/": false, "/bin": true, "/boot": true, "/dev": true, "/etc": true, "/home": false, "/lib": true,
	"/lib32": true, "/lib64": true, "/libx32": true, "/media": false, "/mnt": false, "/nix": true,
	"/opt": false, "/proc": true, "/root": false, "/run": false, "/sbin": true, "/srv": false,
	"/sys": true, "/tmp": false, "/usr": true, "/var": false,
}

// within reports whether p is dir or inside it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// systemDir names the system directory p is or lies in, or "".
func systemDir(p string) string {
	for dir, inside := range systemDirs {
		if p == dir || inside && within(p, dir) {
			return dir
		}
	}
	return ""
}

// checkPaths refuses directories that would harm what they overlap (issue 21: NIXIFY_RUN_DIR=/data
// made the init chown the data root to postgres and chmod it 0700, and the damage stayed on the
// volume): a system directory, or a run directory overlapping the data root or the image's volume.
func (r *reader) checkPaths(c Config) {
	for _, p := range []struct{ k, v, example string }{{"NIXIFY_DATA_DIR", c.DataDir, "/data"}, {"NIXIFY_RUN_DIR", c.RunDir, "/run/postgresql"}} {
		if !path.IsAbs(p.v) {
			continue // already refused
		}
		if sys := systemDir(p.v); sys == p.v {
			r.fail("%s=%q is the system directory %s: use a directory of its own, such as %s", p.k, p.v, sys, p.example)
			return
		} else if sys != "" {
			r.fail("%s=%q is inside the system directory %s: use a directory of its own, such as %s", p.k, p.v, sys, p.example)
			return
		}
	}
	for _, root := range []struct{ k, v string }{{"NIXIFY_DATA_DIR", c.DataDir}, {"the image's volume", "/data"}} {
		if within(c.RunDir, root.v) || within(root.v, c.RunDir) {
			r.fail("NIXIFY_RUN_DIR=%q overlaps %s (%s): use a directory of its own outside it, such as /run/postgresql", c.RunDir, root.k, root.v)
			return
		}
	}
}

// checkPorts refuses two listeners of this container on one port (issue 21: REDIS_PORT equal to
// PG_PORT was accepted and crash-looped): the health server's and those of the enabled services.
func (r *reader) checkPorts(c Config) {
	type port struct {
		k string
		n int
	}
	ports := []port{{"APP_PORT", c.AppPort}}
	if c.Enabled(Postgres) {
		ports = append(ports, port{"PG_PORT", c.PGPort})
	}
	if c.Enabled(Redis) {
		ports = append(ports, port{"REDIS_PORT", c.RedisPort})
	}
	if c.Enabled(Garage) {
		ports = append(ports, port{"GARAGE_S3_PORT", c.S3Port}, port{"GARAGE_ADMIN_PORT", c.AdminPort}, port{"NIXIFY_GARAGE_RPC_PORT", c.RPCPort})
	}
	for i, a := range ports {
		for _, b := range ports[:i] {
			if a.n == b.n && a.n > 0 {
				r.fail("%s=%d collides with %s=%d: give each listener of the container a port of its own", a.k, a.n, b.k, b.n)
			}
		}
	}
}

// host accepts an IP address or a host name and nothing else (no port, scheme, blank or newline):
// NIXIFY_LISTEN goes into redis.conf and garage.toml.
func (r *reader) host(k, def string) string {
	v := r.get(k, def)
	if !ValidHost(v) {
		r.fail("%s=%q is not an IP address or host name: use for example 0.0.0.0, 127.0.0.1 or db.internal (no port or scheme)", k, clip(v))
	}
	return v
}

// ValidHost reports whether v is an IP address or a DNS host name.
func ValidHost(v string) bool {
	if net.ParseIP(v) != nil {
		return true
	}
	if v == "" || len(v) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(v, "."), ".") {
		if !hostLabel.MatchString(label) {
			return false
		}
	}
	return true
}

func (r *reader) match(k, def string, re *regexp.Regexp, accepted string) string {
	v := r.get(k, def)
	if !re.MatchString(v) {
		r.fail("%s=%q is not valid: use %s", k, clip(v), accepted)
	}
	return v
}

// reservedRoles are names PostgreSQL refuses for a role.
var reservedRoles = []string{"public", "none", "current_user", "session_user", "current_role"}

// role accepts what PostgreSQL (and initdb) take as a role name, so a bad name is refused here
// rather than by initdb half-way through a first boot.
func (r *reader) role(k, def string) string {
	v := r.get(k, def)
	lower := strings.ToLower(v)
	if !roleName.MatchString(v) || strings.HasPrefix(lower, "pg_") || slices.Contains(reservedRoles, lower) {
		r.fail("%s=%q is not a role PostgreSQL accepts: use 1-63 letters, digits and _, starting with a letter or _, "+
			"not beginning with pg_ and not one of %s", k, clip(v), strings.Join(reservedRoles, ", "))
	}
	return v
}

func (r *reader) database(k, def string) string {
	v := r.get(k, def)
	if !roleName.MatchString(v) {
		r.fail("%s=%q is not a database name: use 1-63 letters, digits and _, starting with a letter or _", k, clip(v))
	}
	return v
}

// services reads NIXIFY_SERVICES: a comma-separated subset of Known in any order and case. A list
// that names nothing is refused: a container running nothing would report itself healthy.
func (r *reader) services(k string) []string {
	raw := r.getenv(k)
	if raw == "" {
		return Known
	}
	seen := map[string]bool{}
	for _, s := range strings.Split(raw, ",") {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "" {
			continue
		}
		if !slices.Contains(Known, s) {
			r.fail("%s=%q names unknown service %q: use a comma-separated list of %s", k, clip(raw), clip(s), strings.Join(Known, ", "))
			return nil
		}
		seen[s] = true
	}
	if len(seen) == 0 {
		r.fail("%s=%q names no service: use a comma-separated list of %s", k, clip(raw), strings.Join(Known, ", "))
		return nil
	}
	// The start order, whatever order was written.
	return slices.DeleteFunc(slices.Clone(Known), func(s string) bool { return !seen[s] })
}

// clip keeps a quoted bad value short enough for one line.
func clip(v string) string {
	if len(v) > 80 {
		return v[:80] + "..."
	}
	return v
}
