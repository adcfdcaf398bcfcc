package container

import (
	"bytes"
	"testing"

	"github.com/nixify/nixify/internal/engine"
)

func TestServiceFilterKeepsWholeLinesOfOneService(t *testing.T) {
	var out bytes.Buffer
	f := &LineFilter{w: &out, services: []string{"redis"}, stamp: &stamp{}}
	// Frames from the engine split lines anywhere.
	for _, chunk := range []string{"postgres | a\nre", "dis | b\nredis-x | c\n", "redis | d", " e\n", "2024-05-01T10:00:00.123456789Z redis | f\n", "redis | g"} {
		if _, err := f.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	f.Flush()
	want := "redis | b\nredis | d e\n2024-05-01T10:00:00.123456789Z redis | f\nredis | g\n"
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}

func TestTailWriterKeepsLastLines(t *testing.T) {
	var out bytes.Buffer
	tw := &tailWriter{w: &out, n: 2}
	for _, l := range []string{"1\n", "2\n", "3\n"} {
		tw.Write([]byte(l))
	}
	tw.flush()
	if out.String() != "2\n3\n" {
		t.Fatalf("got %q", out.String())
	}
}

func TestHealthURL(t *testing.T) {
	local := engine.Endpoint{Host: "unix:///var/run/docker.sock"}
	remote := engine.Endpoint{Host: "tcp://10.0.0.5:2376"}
	cases := []struct {
		bind string
		ep   engine.Endpoint
		want string
	}{
		{"127.0.0.1", local, "http://127.0.0.1:8080"},
		{"0.0.0.0", local, "http://127.0.0.1:8080"},
		{"0.0.0.0", remote, "http://10.0.0.5:8080"},
		{"::1", local, "http://[::1]:8080"},
	}
	for _, c := range cases {
		if got := HealthURL(c.bind, 8080, c.ep); got != c.want {
			t.Errorf("HealthURL(%s, %s) = %s, want %s", c.bind, c.ep.Host, got, c.want)
		}
	}
}
