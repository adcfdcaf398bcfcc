// Command push measures pushing a two-architecture image set and its index to Debian's local
// docker-registry with nixify's publish package and with the equivalent crane commands, side by side
// in one run, then an unchanged re-push. Needs docker-registry and crane (GOPATH/bin or PATH).
// Run: go run ./bench/push
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/image/imagetest"
	"github.com/nixify/nixify/internal/publish"
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func main() {
	dir, err := os.MkdirTemp("", "nixify-bench-push-")
	must(err)
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(dir, "config.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)), 0o600)
	reg := exec.Command("docker-registry", "serve", cfg)
	must(reg.Start())
	defer reg.Process.Kill()
	for i := 0; ; i++ {
		if r, err := http.Get("http://" + addr + "/v2/"); err == nil {
			r.Body.Close()
			break
		}
		if i > 200 {
			must(fmt.Errorf("docker-registry did not start"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	crane, err := exec.LookPath("crane")
	if err != nil {
		out, _ := exec.Command("go", "env", "GOPATH").Output()
		crane = filepath.Join(strings.TrimSpace(string(out)), "bin", "crane")
	}

	archs := arch.All
	paths := map[arch.Arch]string{}
	for i, a := range archs {
		p := filepath.Join(dir, a.String()+".tar")
		// 30 layers of 1 MB random bytes each, plus text-like layers would compress; random is the
		// worst case for the compressor.
		_, err := imagetest.WriteFile(p, imagetest.Spec{Arch: a.GOARCH(), Layers: 30, LayerSize: 1 << 20, Seed: uint64(i)})
		must(err)
		paths[a] = p
	}
	rev := &publish.Revision{Branch: "main", Commit: "0123456789abcdef", Default: true}
	push := func(cacheDir string) time.Duration {
		start := time.Now()
		cache := image.NewLayerCache(filepath.Join(cacheDir, "layers.json"))
		var ims []publish.Image
		for _, a := range archs {
			img, err := imagetest.Open(paths[a], image.WithLayerCache(cache), image.WithTempDir(dir))
			must(err)
			defer img.Close()
			ims = append(ims, publish.Image{Arch: a, Image: img.V1})
		}
		pub, err := publish.New(addr+"/nixify/img", publish.WithLatest(true))
		must(err)
		plan, err := pub.Plan(context.Background(), publish.Request{Images: ims, Rev: rev, Built: time.Unix(0, 0)})
		must(err)
		_, err = pub.Push(context.Background(), plan, nil)
		must(err)
		return time.Since(start)
	}
	cacheDir := filepath.Join(dir, "cache")
	tNixify := push(cacheDir)

	start := time.Now()
	for _, a := range archs {
		out, err := exec.Command(crane, "push", paths[a], addr+"/crane/img:"+a.String()).CombinedOutput()
		must(wrap(err, out))
	}
	out, err := exec.Command(crane, "index", "append", "-t", addr+"/crane/img:latest", "-m", addr+"/crane/img:x86_64", "-m", addr+"/crane/img:aarch64").CombinedOutput()
	must(wrap(err, out))
	tCrane := time.Since(start)

	tRepush := push(cacheDir)
	fmt.Printf("two architectures, 30 x 1 MB layers each (%s), local docker-registry:\n", "random bytes")
	fmt.Printf("  nixify push (plan + push, cold layer cache)  : %6d ms\n", tNixify.Milliseconds())
	fmt.Printf("  crane push x2 + crane index append:           %6d ms\n", tCrane.Milliseconds())
	fmt.Printf("  nixify unchanged re-push (warm cache):        %6d ms\n", tRepush.Milliseconds())
}

func wrap(err error, out []byte) error {
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}
