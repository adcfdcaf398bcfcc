package root

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/testpeer"
)

type result struct {
	code        int
	out, errOut string
}

func run(t *testing.T, env map[string]string, dir string, args ...string) result {
	t.Helper()
	io, _, out, errOut := iostreams.Test()
	f := &cli.Factory{IO: io, Getenv: func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}, WorkDir: dir}
	code := Main(f, args)
	return result{code, out.String(), errOut.String()}
}

func TestUsageErrorsExitTwoWithOneLine(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "nixify.yaml"), []byte("port: 8080\nunknown_key: 1\n"), 0o644)
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "nixify.yaml"), []byte("port: {\n"), 0o644)
	cases := []struct {
		name string
		env  map[string]string
		dir  string
		args []string
		want string
	}{
		{"unknown command", nil, "", []string{"frobnicate"}, `nixify: unknown command "frobnicate"` + "\nhint: `nixify --help` lists the commands\n"},
		{"typo", nil, "", []string{"biuld"}, `nixify: unknown command "biuld": did you mean build?` + "\nhint: `nixify --help` lists the commands\n"},
		{"unknown flag", nil, "", []string{"config", "--frob"}, "unknown flag: --frob"},
		{"bad output", nil, "", []string{"-o", "yaml", "version"}, `invalid --output "yaml": accepted: text, json`},
		// cobra.NoArgs called an argument an unknown command and the hint pointed at nixify --help.
		{"extra argument", nil, "", []string{"version", "extra"}, "nixify: version takes no arguments, not \"extra\"\nhint: see `nixify version --help`\n"},
		// exec says what it lacks and how to give it (issue 23), not cobra's "requires at least 1 arg(s)".
		{"missing argument", nil, "", []string{"exec"}, "nixify: no command to run\nhint: for example: nixify exec -- ls -l /data (or nixify shell)\n"},
		{"too many arguments", nil, "", []string{"sbom", "a", "b"}, "nixify: sbom takes at most 1 argument, not 2\nhint: see `nixify sbom --help`\n"},
		{"bad port env", map[string]string{"NIXIFY_PORT": "abc"}, "", []string{"config"}, `invalid port "abc" (env NIXIFY_PORT): a port number from 1 to 65535`},
		{"bad architecture env", map[string]string{"NIXIFY_ARCHITECTURES": "x86_64,mips"}, "", []string{"config"}, `invalid architectures "mips" (env NIXIFY_ARCHITECTURES)`},
		{"unknown key in file", nil, dir, []string{"config"}, `line 2: unknown key "unknown_key"`},
		{"bad yaml", nil, bad, []string{"config"}, "is not valid YAML"},
		{"missing --config file", nil, "", []string{"--config", "/nonexistent/nixify.yaml", "config"}, `invalid config file "/nonexistent/nixify.yaml"`},
		{"empty container", map[string]string{"NIXIFY_CONTAINER": "-"}, "", []string{"doctor"}, `invalid container "-" (env NIXIFY_CONTAINER)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.dir
			if d == "" {
				d = t.TempDir()
			}
			r := run(t, tc.env, d, tc.args...)
			if r.code != cli.ExitUsage {
				t.Fatalf("exit %d, want 2; stderr %q", r.code, r.errOut)
			}
			if !strings.Contains(r.errOut, tc.want) {
				t.Fatalf("stderr %q does not contain %q", r.errOut, tc.want)
			}
			lines := strings.Split(strings.TrimSpace(r.errOut), "\n")
			if len(lines) > 2 || len(lines) == 2 && !strings.HasPrefix(lines[1], "hint: ") {
				t.Fatalf("want one line and at most a hint, got %d:\n%s", len(lines), r.errOut)
			}
		})
	}
}

func TestConfigJSONShowsOrigins(t *testing.T) {
	r := run(t, map[string]string{"NIXIFY_PORT": "9999"}, t.TempDir(), "config", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	var got struct {
		Entries []struct {
			Key    string
			Value  any
			Origin struct{ Source, Detail string }
		}
	}
	if err := json.Unmarshal([]byte(r.out), &got); err != nil {
		t.Fatalf("%v: %s", err, r.out)
	}
	for _, e := range got.Entries {
		if e.Key == "port" {
			if e.Value != float64(9999) || e.Origin.Source != "env" || e.Origin.Detail != "NIXIFY_PORT" {
				t.Fatalf("port entry: %+v", e)
			}
			return
		}
	}
	t.Fatal("no port entry")
}

func TestVersion(t *testing.T) {
	r := run(t, nil, t.TempDir(), "version", "--output", "json")
	var v struct{ Version, GoVersion string }
	if r.code != 0 || json.Unmarshal([]byte(r.out), &v) != nil || v.Version == "" || !strings.HasPrefix(v.GoVersion, "go") {
		t.Fatalf("exit %d out %q", r.code, r.out)
	}
}

func TestDoctorExitCodes(t *testing.T) {
	testpeer.Require(t, "nix", func() error { _, err := exec.LookPath("nix"); return err })
	testpeer.Require(t, "Docker engine", func() error { return exec.Command("docker", "info").Run() })

	r := run(t, nil, t.TempDir(), "doctor", "-o", "json")
	if r.code != 0 {
		t.Fatalf("doctor on this machine: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	var rep struct {
		OK     bool
		Checks []struct{ Name, Status string }
	}
	if err := json.Unmarshal([]byte(r.out), &rep); err != nil || !rep.OK || len(rep.Checks) < 6 {
		t.Fatalf("report: %+v %v", rep, err)
	}

	r = run(t, map[string]string{"DOCKER_HOST": "unix:///nonexistent/docker.sock"}, t.TempDir(), "doctor")
	if r.code != cli.ExitFailure || !strings.Contains(r.out, "docker engine\tfail") || !strings.Contains(r.out, "fix docker engine:") {
		t.Fatalf("doctor without engine: exit %d\n%s", r.code, r.out)
	}
}

// TestCompletionCompletesFlagValues asks as the shell scripts do (cobra's __complete command).
func TestCompletionCompletesFlagValues(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"build", "--arch", ""}, []string{"x86_64", "aarch64", "all"}},
		{[]string{"run", "--arch", ""}, []string{"x86_64", "aarch64"}},
		{[]string{"push", "--arch", ""}, []string{"x86_64", "aarch64", "all"}},
		{[]string{"logs", "--service", ""}, []string{"postgres", "redis", "garage", "health", "init"}},
		{[]string{"version", "-o", ""}, []string{"text", "json"}},
		{[]string{"env", "--format", ""}, []string{"shell", "dotenv", "json"}},
		{[]string{"sbom", "--format", ""}, []string{"cyclonedx", "spdx"}},
	} {
		r := run(t, nil, t.TempDir(), append([]string{"__complete"}, c.args...)...)
		lines := strings.Split(strings.TrimSpace(r.out), "\n")
		if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], ":") {
			t.Fatalf("%v: not a completion answer: %q", c.args, r.out)
		}
		if got := lines[:len(lines)-1]; !slices.Equal(got, c.want) || lines[len(lines)-1] != ":4" {
			t.Errorf("%v completes %q (%s), want %q without files", c.args, got, lines[len(lines)-1], c.want)
		}
	}
}

// config's piped lines are what the keys take: architectures as a comma list (it printed Go's
// [x86_64 aarch64]), and the container environment by key only, whatever NIXIFY_ENV holds.
func TestConfigLinesAreWhatTheKeysTake(t *testing.T) {
	r := run(t, map[string]string{"NIXIFY_ENV": "REDIS_PASSWORD=sec ret,POSTGRES_DB=app"}, t.TempDir(), "config")
	if r.code != 0 || !strings.Contains(r.out, "architectures\tx86_64,aarch64\tdefault\n") ||
		!strings.Contains(r.out, "env\tREDIS_PASSWORD=…,POSTGRES_DB=…\tenv NIXIFY_ENV\n") || strings.Contains(r.out, "sec") {
		t.Fatalf("exit %d:\n%s%s", r.code, r.out, r.errOut)
	}
}
