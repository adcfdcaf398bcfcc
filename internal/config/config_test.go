package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/nixify/nixify/internal/arch"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeFile(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "nixify.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func portFlag(t *testing.T, args ...string) map[string]*pflag.Flag {
	t.Helper()
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.Int("port", 8080, "")
	fs.StringSlice("arch", nil, "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return map[string]*pflag.Flag{"port": fs.Lookup("port"), "architectures": fs.Lookup("arch")}
}

func TestDefaults(t *testing.T) {
	l, err := Load(Options{WorkDir: t.TempDir(), Getenv: env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if c.Port != 8080 || c.Flake != "." || c.Attr != "docker-image-static" || c.Image != "nixify-health-check" ||
		c.Bind != "127.0.0.1" || strings.Join(arch.Strings(c.Architectures), ",") != "x86_64,aarch64" {
		t.Fatalf("defaults: %+v", c)
	}
	if l.Origins["port"].Source != FromDefault || l.File != "" {
		t.Fatalf("origins: %+v file %q", l.Origins["port"], l.File)
	}
}

func TestPrecedenceFlagOverEnvOverFileOverDefault(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "port: 9000\nimage: from-file\ncontainer: c-file\narchitectures: [arm64]\n")
	e := env(map[string]string{"NIXIFY_PORT": "9100", "NIXIFY_IMAGE": "from-env"})

	l, err := Load(Options{WorkDir: dir, Getenv: e, Flags: portFlag(t, "--port", "9200")})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if c.Port != 9200 || c.Image != "from-env" || c.Container != "c-file" || c.Volume != "nixify-data" {
		t.Fatalf("merged: %+v", c)
	}
	if strings.Join(arch.Strings(c.Architectures), ",") != "aarch64" {
		t.Fatalf("architectures alias not normalized: %v", c.Architectures)
	}
	want := map[string]Origin{
		"port":      {FromFlag, "--port"},
		"image":     {FromEnv, "NIXIFY_IMAGE"},
		"container": {FromFile, file},
		"volume":    {FromDefault, ""},
	}
	for k, o := range want {
		if l.Origins[k] != o {
			t.Errorf("origin of %s = %+v, want %+v", k, l.Origins[k], o)
		}
	}

	// Without the flag, the environment wins over the file.
	l, err = Load(Options{WorkDir: dir, Getenv: e, Flags: portFlag(t)})
	if err != nil || l.Config.Port != 9100 {
		t.Fatalf("env over file: %+v %v", l, err)
	}
	// Without the environment, the file wins over the default.
	l, err = Load(Options{WorkDir: dir, Getenv: env(nil)})
	if err != nil || l.Config.Port != 9000 {
		t.Fatalf("file over default: %+v %v", l, err)
	}
}

func TestUserConfigDirIsSecondChoice(t *testing.T) {
	xdg := t.TempDir()
	if err := os.MkdirAll(filepath.Join(xdg, "nixify"), 0o755); err != nil {
		t.Fatal(err)
	}
	user := writeFile(t, filepath.Join(xdg, "nixify"), "port: 7000\n")
	l, err := Load(Options{WorkDir: t.TempDir(), Getenv: env(map[string]string{"XDG_CONFIG_HOME": xdg})})
	if err != nil || l.Config.Port != 7000 || l.File != user {
		t.Fatalf("user config: %+v %v", l, err)
	}
	work := t.TempDir()
	writeFile(t, work, "port: 7001\n")
	l, err = Load(Options{WorkDir: work, Getenv: env(map[string]string{"XDG_CONFIG_HOME": xdg})})
	if err != nil || l.Config.Port != 7001 {
		t.Fatalf("./nixify.yaml should win over the user config: %+v %v", l, err)
	}
}

func TestArchitecturesFromEnvironmentList(t *testing.T) {
	l, err := Load(Options{WorkDir: t.TempDir(), Getenv: env(map[string]string{"NIXIFY_ARCHITECTURES": "amd64,arm64"})})
	if err != nil || strings.Join(arch.Strings(l.Config.Architectures), ",") != "x86_64,aarch64" {
		t.Fatalf("%+v %v", l, err)
	}
}

func TestValidationErrorsNameKeyValueAndWhatIsAccepted(t *testing.T) {
	cases := []struct {
		name  string
		file  string
		env   map[string]string
		flags []string
		want  string
	}{
		{"port not a number", "", map[string]string{"NIXIFY_PORT": "abc"}, nil,
			`invalid port "abc" (env NIXIFY_PORT): a port number from 1 to 65535`},
		{"port out of range", "port: 70000\n", nil, nil, `invalid port "70000" (file `},
		{"port zero from flag", "", nil, []string{"--port", "0"}, `invalid port "0" (flag --port): a port number from 1 to 65535`},
		{"unknown architecture", "", nil, []string{"--arch", "riscv64"}, `invalid architectures "riscv64" (flag --arch): accepted: x86_64 (alias amd64), aarch64 (alias arm64)`},
		{"unknown key", "port: 8080\nprot: 1\n", nil, nil, `line 2: unknown key "prot"; known keys: flake, attr,`},
		{"bad yaml", "port: [8080\n", nil, nil, `is not valid YAML: line 1:`},
		{"not a mapping", "- port\n", nil, nil, `line 1: expected a mapping`},
		{"empty container", "container: \"\"\n", nil, nil, `invalid container "" (file `},
		{"blank image from env", "", map[string]string{"NIXIFY_IMAGE": " "}, nil, `invalid image "" (env NIXIFY_IMAGE): a lowercase image name`},
		{"bad image", "", map[string]string{"NIXIFY_IMAGE": "Bad Name"}, nil, `invalid image "Bad Name" (env NIXIFY_IMAGE): a lowercase image name`},
		{"bad bind", "bind: localhost:80\n", nil, nil, `invalid bind "localhost:80"`},
		{"bad docker host", "", map[string]string{"NIXIFY_DOCKER_HOST": "/var/run/docker.sock"}, nil, `invalid docker_host "/var/run/docker.sock" (env NIXIFY_DOCKER_HOST): a URL like unix://`},
		{"empty flake", "flake: ''\n", nil, nil, `invalid flake "" (file `},
		{"env item without =", "env: [\"POSTGRES_PASSWORD\"]\n", nil, nil, `invalid env item 1 (17 characters without '=', not shown) (file `},
		{"env item with bad key, value kept out", "env: [\"1X=s3cret\"]\n", nil, nil, `invalid env "1X" (file `},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.file != "" {
				writeFile(t, dir, tc.file)
			}
			_, err := Load(Options{WorkDir: dir, Getenv: env(tc.env), Flags: portFlag(t, tc.flags...)})
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans lines: %q", err)
			}
		})
	}
}

func TestMissingConfigFileNamedByFlag(t *testing.T) {
	_, err := Load(Options{File: filepath.Join(t.TempDir(), "nope.yaml"), Getenv: env(nil)})
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func TestEnvItems(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "env:\n  - POSTGRES_DB=app\n  - REDIS_PASSWORD=a=b\n")
	l, err := Load(Options{WorkDir: dir, Getenv: env(nil)})
	if err != nil || strings.Join(l.Config.Env, " ") != "POSTGRES_DB=app REDIS_PASSWORD=a=b" {
		t.Fatalf("%+v %v", l, err)
	}
	_, err = Load(Options{WorkDir: t.TempDir(), Getenv: env(map[string]string{"NIXIFY_ENV": "1X=s3cret"})})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("secret in error or no error: %v", err)
	}
}

func TestPublish(t *testing.T) {
	got, err := ParsePublish([]string{"redis,postgres=15432", "s3", "postgres"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].String() != "postgres=15432" || got[1].String() != "redis" || got[2].String() != "s3" {
		t.Fatalf("got %v", got)
	}
	if all, _ := ParsePublish([]string{"all", "redis=1"}); len(all) != 3 || all[1].HostPort != 1 {
		t.Fatalf("all: %v", all)
	}
	for _, bad := range []string{"mysql", "postgres=0", "redis=70000", "all=5", "postgres=x"} {
		if _, err := ParsePublish([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	dir := t.TempDir()
	writeFile(t, dir, "publish: [postgres, redis=16379]\n")
	l, err := Load(Options{WorkDir: dir, Getenv: env(nil)})
	if err != nil || len(l.Config.Publish) != 2 || l.Config.Publish[1].HostPort != 16379 {
		t.Fatalf("file: %+v %v", l, err)
	}
	l, err = Load(Options{WorkDir: t.TempDir(), Getenv: env(map[string]string{"NIXIFY_PUBLISH": "s3,redis"})})
	if err != nil || len(l.Config.Publish) != 2 || l.Config.Publish[0].Service != "redis" {
		t.Fatalf("env: %+v %v", l, err)
	}
	_, err = Load(Options{WorkDir: t.TempDir(), Getenv: env(map[string]string{"NIXIFY_PUBLISH": "pg"})})
	if err == nil || !strings.Contains(err.Error(), `invalid publish "pg" (env NIXIFY_PUBLISH): accepted: postgres`) {
		t.Fatalf("bad env: %v", err)
	}
}

// The bug: NIXIFY_ENV went through viper's string-to-list, which splits at whitespace, so
// "REDIS_PASSWORD=sec ret" became two items and the error printed "ret", a piece of the password;
// and A=1,B=2 silently became one item (A="1,B=2").
func TestEnvFromTheEnvironmentKeepsSpacesAndSplitsItems(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"REDIS_PASSWORD=sec ret", []string{"REDIS_PASSWORD=sec ret"}},
		{"A=1,B=2", []string{"A=1", "B=2"}},
		{"A=1, B=2", []string{"A=1", "B=2"}},
		{"REDIS_PASSWORD=a,b c,POSTGRES_DB=app", []string{"REDIS_PASSWORD=a,b c", "POSTGRES_DB=app"}},
		{"DATABASE_HOSTS=h1,h2", []string{"DATABASE_HOSTS=h1,h2"}},
		{"A=1\nB=x,y=z\r\n\nC= padded ", []string{"A=1", "B=x", "y=z", "C= padded "}},
		{"PW=a=b,c", []string{"PW=a=b,c"}},
	} {
		l, err := Load(Options{WorkDir: t.TempDir(), Getenv: env(map[string]string{"NIXIFY_ENV": c.in})})
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if !slices.Equal(l.Config.Env, c.want) {
			t.Errorf("%q: got %q, want %q", c.in, l.Config.Env, c.want)
		}
	}
	// A string in the file reads the same way; a list's items are taken whole.
	dir := t.TempDir()
	writeFile(t, dir, "env: \"REDIS_PASSWORD=sec ret\"\n")
	if l, err := Load(Options{WorkDir: dir, Getenv: env(nil)}); err != nil || !slices.Equal(l.Config.Env, []string{"REDIS_PASSWORD=sec ret"}) {
		t.Fatalf("string in the file: %+v %v", l, err)
	}
	writeFile(t, dir, "env:\n  - \"A=1,B=2\"\n  - \"PW=x y\"\n")
	if l, err := Load(Options{WorkDir: dir, Getenv: env(nil)}); err != nil || !slices.Equal(l.Config.Env, []string{"A=1,B=2", "PW=x y"}) {
		t.Fatalf("list in the file: %+v %v", l, err)
	}
	// Other lists from the environment take spaces after their commas.
	if l, err := Load(Options{WorkDir: t.TempDir(), Getenv: env(map[string]string{"NIXIFY_ARCHITECTURES": "x86_64, aarch64"})}); err != nil || len(l.Config.Architectures) != 2 {
		t.Fatalf("architectures with a space: %+v %v", l, err)
	}
}

// A malformed item never shows a piece of a value in the error.
func TestEnvErrorsShowNoPieceOfASecret(t *testing.T) {
	for _, in := range []string{"REDIS_PASSWORD=ok\ns3cr3t-rest", "hunter2", "1X=s3cret", "bad key=s3cret"} {
		_, err := Load(Options{WorkDir: t.TempDir(), Getenv: env(map[string]string{"NIXIFY_ENV": in})})
		if err == nil {
			t.Errorf("%q accepted", in)
			continue
		}
		for _, secret := range []string{"s3cr", "hunter", "rest"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%q: the error shows %q: %v", in, secret, err)
			}
		}
		if !strings.Contains(err.Error(), "(env NIXIFY_ENV)") {
			t.Errorf("%q: the error does not name NIXIFY_ENV: %v", in, err)
		}
	}
}

func TestRedactEnv(t *testing.T) {
	for in, want := range map[string]string{
		"POSTGRES_PASSWORD=s3cret": "POSTGRES_PASSWORD=…",
		"GARAGE_SECRET_KEY=abc":    "GARAGE_SECRET_KEY=…",
		"GITHUB_TOKEN=abc":         "GITHUB_TOKEN=…",
		"REDISCLI_AUTH=abc":        "REDISCLI_AUTH=…",
		"POSTGRES_DB=app":          "POSTGRES_DB=app",
		"s3cret":                   "(6 characters, not shown)",
		"POSTGRES_PASSWORD":        "(17 characters, not shown)",
		"=s3cret":                  "=…",
		"1X=s3cret":                "1X=…",
	} {
		if got := RedactEnv(in); got != want {
			t.Errorf("RedactEnv(%q) = %q, want %q", in, got, want)
		}
	}
}
