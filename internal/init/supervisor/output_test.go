package supervisor

import (
	"context"
	"strings"
	"testing"
)

// TestOutputWithTheReaperRunning: a program's output and exit status come back while the reaper
// collects every child (os/exec's Wait lost that race: "waitid: no child processes", which
// stopped the init's PostgreSQL version check in a container).
func TestOutputWithTheReaperRunning(t *testing.T) {
	sharedReaper()
	for i := 0; i < 50; i++ {
		out, err := Output(context.Background(), "/bin/echo", "15.18")
		if err != nil || strings.TrimSpace(string(out)) != "15.18" {
			t.Fatalf("run %d: %q %v", i, out, err)
		}
	}
	if _, err := Output(context.Background(), "/bin/false"); err == nil {
		t.Fatal("a failing program reported no error")
	}
}
