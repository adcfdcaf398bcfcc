package iostreams

import (
	"fmt"
	"strings"
)

// Bytes prints a size in binary units (KiB, MiB...), as disks and memory are measured.
func Bytes(n int64) string { return formatSize(n, 1024, "KMGTPE", "iB") }

// DecimalBytes prints a size in decimal units (kB, MB...), as registries and the Docker CLI do.
func DecimalBytes(n int64) string { return formatSize(n, 1000, "kMGTPE", "B") }

func formatSize(n, unit int64, prefixes, suffix string) string {
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
