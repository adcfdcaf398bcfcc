package initenv

import "testing"

func TestMajor(t *testing.T) {
	for in, want := range map[string]string{"15.14": "15", "17beta1": "17", "9.6.24": "9.6", "10.23": "10", "16": "16", "18rc1": "18", "8.4.22": "8.4"} {
		if got := PGMajor(in); got != want {
			t.Errorf("PGMajor(%q) = %q, want %q", in, got, want)
		}
	}
}
