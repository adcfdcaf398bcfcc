package healthserver

import (
	"testing"
	"time"
)

func TestReadableDurations(t *testing.T) {
	for d, want := range map[time.Duration]string{
		850 * time.Microsecond:      "850 µs",
		12300 * time.Microsecond:    "12.3 ms",
		4200 * time.Millisecond:     "4.2 s",
		200 * time.Second:           "3 min 20 s",
		2*time.Hour + 5*time.Minute: "2 h 5 min",
		76 * time.Hour:              "3 d 4 h",
	} {
		if got := readable(d); got != want {
			t.Errorf("readable(%s) = %q, want %q", d, got, want)
		}
	}
}
