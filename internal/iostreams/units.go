package iostreams

import (
	"fmt"
	"math"
	"strconv"
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

// ParseBytes reads a size as people write it for limits: "60MiB", "60 MiB", "1.5GiB", "512KiB" or
// a plain number of bytes. Only binary units are accepted, the ones Bytes prints.
func ParseBytes(s string) (int64, error) {
	t, mult := strings.TrimSpace(s), 1.0
	for i, p := range "KMGTPE" {
		if u := string(p) + "iB"; strings.HasSuffix(t, u) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u)), math.Pow(1024, float64(i+1))
			break
		}
	}
	if mult == 1 {
		t = strings.TrimSpace(strings.TrimSuffix(t, "B"))
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || f*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a size: want bytes, or a number with KiB, MiB or GiB such as 60MiB", s)
	}
	return int64(f * mult), nil
}
