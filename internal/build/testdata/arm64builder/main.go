// Command arm64builder is the builder of the test flake's aarch64 image. The test compiles it for
// arm64, so it runs on an x86_64 host only under emulation; it writes a one-layer docker-archive
// whose config names the architecture it was compiled for and the machine the kernel reported.
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"syscall"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return err
	}
	var machine []byte
	for _, c := range u.Machine {
		if c == 0 {
			break
		}
		machine = append(machine, byte(c))
	}
	fmt.Println("building on", string(machine))

	var layer bytes.Buffer
	lw := tar.NewWriter(&layer)
	body := []byte("hello from " + runtime.GOARCH + "\n")
	lw.WriteHeader(&tar.Header{Name: "etc/hello", Mode: 0o644, Size: int64(len(body))})
	lw.Write(body)
	lw.Close()
	config, _ := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config":       map[string]any{"Labels": map[string]string{"machine": string(machine), "nonce": os.Getenv("nonce")}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{fmt.Sprintf("sha256:%x", sha256.Sum256(layer.Bytes()))}},
	})
	cfgName := fmt.Sprintf("%x.json", sha256.Sum256(config))
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"nixify-test:arm64"}, "Layers": []string{"layer/layer.tar"}}})

	f, err := os.Create(os.Getenv("out"))
	if err != nil {
		return err
	}
	w := tar.NewWriter(f)
	for _, e := range []struct {
		name string
		data []byte
	}{{cfgName, config}, {"layer/layer.tar", layer.Bytes()}, {"manifest.json", manifest}} {
		if err := w.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data))}); err != nil {
			return err
		}
		if _, err := w.Write(e.data); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	return f.Close()
}
