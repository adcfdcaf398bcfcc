package env

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/container"
)

var hostile = []string{
	"plain", "", "it's", `back\slash`, `"double"`, "$(touch /tmp/nixify-pwned)", "`id`", "line1\nline2",
	"semi;colon && rm -rf x", "$HOME ${PATH}", "'", `\'`, "tab\there", "trailing\\", strings.Repeat("x'y\"z$", 2000),
}

// TestShellQuoteSurvivesEval: every hostile value, exported and eval'd by sh, comes back byte for
// byte and runs nothing.
func TestShellQuoteSurvivesEval(t *testing.T) {
	for _, v := range hostile {
		script := "export X=" + ShellQuote(v) + "\nprintf '%s' \"$X\""
		out, err := exec.Command("/bin/sh", "-c", script).Output()
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if string(out) != v {
			t.Errorf("%q came back as %q", v, out)
		}
	}
}

func TestDotenvQuote(t *testing.T) {
	for v, want := range map[string]string{
		"abc":    "'abc'",
		"a$b":    "'a$b'",
		"it's":   `"it's"`,
		"a\nb":   `"a\nb"`,
		`q"'\$x`: `"q\"'\\\$x"`,
	} {
		if got := DotenvQuote(v); got != want {
			t.Errorf("DotenvQuote(%q) = %s, want %s", v, got, want)
		}
	}
}

func TestVarsLeaveOutWhatIsNotPublished(t *testing.T) {
	in, err := container.ReadInside([]string{"NIXIFY_SERVICES=postgres,redis", "POSTGRES_USER=app", "POSTGRES_DB=shop"})
	if err != nil {
		t.Fatal(err)
	}
	conns := []shared.Connection{{Service: "postgres", Host: "127.0.0.1", Port: 15432, User: "app", Database: "shop", Running: true}}
	vars, notes := Vars(conns, in, container.Secrets{PGPassword: "p@ss:/word", RedisPassword: "r"})
	got := map[string]string{}
	for _, v := range vars {
		got[v.Key] = v.Value
	}
	if got["DATABASE_URL"] != "postgres://app:p%40ss%3A%2Fword@127.0.0.1:15432/shop" || got["PGPASSWORD"] != "p@ss:/word" || got["PGPORT"] != "15432" {
		t.Fatalf("vars: %v", got)
	}
	if _, ok := got["REDIS_URL"]; ok || len(notes) != 1 || !strings.Contains(notes[0], "redis is not published") {
		t.Fatalf("redis: vars %v notes %v", got, notes)
	}
}

func TestVarsForS3AndRedisWithPassword(t *testing.T) {
	in, err := container.ReadInside([]string{"GARAGE_REGION=eu", "GARAGE_BUCKET=files"})
	if err != nil {
		t.Fatal(err)
	}
	conns := []shared.Connection{
		{Service: "redis", Host: "127.0.0.1", Port: 6379, Running: true},
		{Service: "s3", Host: "127.0.0.1", Port: 13900, URL: "http://127.0.0.1:13900", Region: "eu", Bucket: "files", Running: true},
	}
	vars, notes := Vars(conns, in, container.Secrets{RedisPassword: "r p", AccessKey: "GK1", SecretKey: "sk"})
	got := map[string]string{}
	for _, v := range vars {
		got[v.Key] = v.Value
	}
	want := map[string]string{"REDIS_URL": "redis://default:r%20p@127.0.0.1:6379", "REDISCLI_AUTH": "r p", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6379",
		"AWS_ENDPOINT_URL_S3": "http://127.0.0.1:13900", "AWS_ACCESS_KEY_ID": "GK1", "AWS_SECRET_ACCESS_KEY": "sk", "AWS_REGION": "eu", "S3_BUCKET": "files"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "postgres is not published") {
		t.Errorf("notes: %v", notes)
	}
}
