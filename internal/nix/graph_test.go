package nix

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeDrv writes a .drv file in Nix's ATerm with the given input derivations.
func writeDrv(t *testing.T, dir, name string, inputs ...string) string {
	t.Helper()
	var in []string
	for _, i := range inputs {
		in = append(in, `("`+i+`",["out"])`)
	}
	p := filepath.Join(dir, "0000-"+name+".drv")
	body := `Derive([("out","/nix/store/x-` + name + `","","")],[` + strings.Join(in, ",") + `],["/nix/store/src"],"x86_64-linux","/bin/sh",["-c","echo (\"/nix/store/fake.drv\",[)"],[("name","` + name + `"),("dep","/nix/store/y.drv")])`
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGraphTreeShowsWhatWaitsOnTheRunningBuilds(t *testing.T) {
	d := t.TempDir()
	libc := writeDrv(t, d, "libc")
	redis := writeDrv(t, d, "redis", libc)
	pg := writeDrv(t, d, "postgresql", libc)
	layers := writeDrv(t, d, "layers", redis, pg)
	done := writeDrv(t, d, "busybox")
	image := writeDrv(t, d, "image.tar", layers, done)
	in, err := InputDrvs(image)
	if err != nil || len(in) != 2 || in[0] != layers || in[1] != done {
		t.Fatalf("InputDrvs = %v, %v (a string in the builder's args must not count)", in, err)
	}
	g, err := LoadGraph(image)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range g.Tree([]string{redis, pg, "/nix/store/other-build.drv"}) {
		got = append(got, strings.Repeat(" ", n.Depth)+StoreName(strings.TrimPrefix(n.Drv, d+"/0000-"))+map[bool]string{true: " running", false: ""}[n.Running]+" "+string(rune('0'+n.Waits)))
	}
	want := []string{"image.tar.drv 2", " layers.drv 2", "  postgresql.drv running 1", "  redis.drv running 1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("tree\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(g.Tree(nil)) != 0 {
		t.Fatal("nothing running, but a tree")
	}
}

// BenchmarkGraphTree places 4 running builds in a graph the size of a nixpkgs image's (3000
// derivations, each needing up to 8 of the ones before it): the view does this 10 times a second.
// Run: go test ./internal/nix -run XXX -bench GraphTree
func BenchmarkGraphTree(b *testing.B) {
	g := &Graph{inputs: map[string][]string{}, users: map[string][]string{}}
	const n = 3000
	name := func(i int) string { return fmt.Sprintf("/nix/store/%04d-d.drv", i) }
	for i := range n {
		var in []string
		for k := 1; k <= 8 && i-k*k*7 >= 0; k++ {
			in = append(in, name(i-k*k*7))
		}
		g.inputs[name(i)] = in
		for _, x := range in {
			g.users[x] = append(g.users[x], name(i))
		}
	}
	g.roots = []string{name(n - 1)}
	running := []string{name(100), name(700), name(1500), name(2200)}
	b.ReportAllocs()
	for b.Loop() {
		g.Tree(running)
	}
}
