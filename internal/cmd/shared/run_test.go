package shared

import (
	"strings"
	"testing"
)

func TestMergeEnvLaterWinsOneItemPerKey(t *testing.T) {
	got := MergeEnv([]string{"A=1", "B=2"}, []string{"B=3", "C=4", "A=5"})
	if strings.Join(got, " ") != "A=5 B=3 C=4" {
		t.Fatalf("got %v", got)
	}
}
