package iostreams

import (
	"fmt"
	"strings"
)

// Bytes prints a size in binary (IEC) units, KiB, MiB, GiB: the one size format of every command,
// so that two numbers on one screen are always comparable.
func Bytes(n int64) string {
	const unit, prefixes, suffix = 1024, "KMGTPE", "iB"
	if n < 0 && -n > 0 { // -n overflows only for the smallest int64
		return "-" + Bytes(-n)
	}
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := unit, 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	s := strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/float64(div)), ".0")
	return s + " " + string(prefixes[exp]) + suffix
}
