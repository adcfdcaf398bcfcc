package shared

import (
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/container"
)

func TestMergeEnvLaterWinsOneItemPerKey(t *testing.T) {
	got := MergeEnv([]string{"A=1", "B=2"}, []string{"B=3", "C=4", "A=5"})
	if strings.Join(got, " ") != "A=5 B=3 C=4" {
		t.Fatalf("got %v", got)
	}
}

// TestExistsHintFitsEachState: the way out named for a taken container name is one that works in
// that state (it once said `nixify stop` for a container that was stopped already).
func TestExistsHintFitsEachState(t *testing.T) {
	for _, c := range []struct {
		err  container.ExistsError
		want string
	}{
		{container.ExistsError{Name: "c", State: "running", Ours: true, Differs: "another image"}, "`nixify run --replace`"},
		{container.ExistsError{Name: "c", State: "exited", Ours: true, Differs: "another image"}, "`nixify run --replace`"},
		{container.ExistsError{Name: "c", State: "created", Ours: true, Differs: "other published ports"}, "`nixify start`"},
		{container.ExistsError{Name: "c", State: "paused", Ours: true}, "`nixify stop` then `nixify start`"},
		{container.ExistsError{Name: "c", State: "exited", Ours: false}, "docker rm -f c"},
		{container.ExistsError{Name: "c", State: "being created", Raced: true}, "`nixify status`"},
	} {
		err := StartError(&c.err)
		if cli.Code(err) != cli.ExitFailure || !strings.Contains(cli.Hint(err), c.want) {
			t.Errorf("%+v: hint %q, want %q", c.err, cli.Hint(err), c.want)
		}
	}
}

// TestExistsHintAgreesWithTheError: a running container of another image was refused with
// "... (running) with another image" and the hint "it is running with other settings": the hint
// now names the same difference as the error, for each difference.
func TestExistsHintAgreesWithTheError(t *testing.T) {
	for _, differs := range []string{"another image", "other published ports", "another value of REDIS_PASSWORD", "another volume (v)"} {
		e := container.ExistsError{Name: "c", State: "running", Ours: true, Differs: differs}
		err := StartError(&e)
		if !strings.Contains(err.Error(), "with "+differs) {
			t.Fatalf("error %q does not name %q", err, differs)
		}
		if h := cli.Hint(err); !strings.Contains(h, "running with "+differs+":") || strings.Contains(h, "other settings") {
			t.Errorf("error %q, hint %q: want the hint to say \"running with %s\"", err, h, differs)
		}
	}
}

// TestAPortAskedForTwiceIsAUsageError (issue 23): --publish postgres=<the health port> is the
// user's input contradicting itself: exit 2, not 1.
func TestAPortAskedForTwiceIsAUsageError(t *testing.T) {
	err := StartError(&container.PortInUseError{Bind: "127.0.0.1", Port: 8080, Err: "asked for twice", Twice: true})
	if cli.Code(err) != cli.ExitUsage {
		t.Fatalf("exit %d, want %d", cli.Code(err), cli.ExitUsage)
	}
	if err := StartError(&container.PortInUseError{Bind: "127.0.0.1", Port: 8080, Err: "in use"}); cli.Code(err) != cli.ExitFailure {
		t.Fatalf("a port something else holds: exit %d, want 1", cli.Code(err))
	}
}

// TestImageNameIsTheImagesOwn: whatever order the engine lists an image's names in, run and
// status call it by its own tag, not by the IMAGE:ARCH-ID mark nixify gives what it loads (the
// name once flipped between the two).
func TestImageNameIsTheImagesOwn(t *testing.T) {
	own, mark := "nixify-layered:amd64", container.LoadedTag("nixify-health-check", "x86_64", "sha256:0123456789abcdef")
	for _, names := range [][]string{{mark, own}, {own, mark}, {"sha256:0123", own}} {
		if got := ImageName(names); got != own {
			t.Errorf("%q: %q, want %q", names, got, own)
		}
	}
	if got := ImageName([]string{mark}); got != mark {
		t.Errorf("only the mark: %q", got)
	}
}
