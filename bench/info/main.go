// Command info measures `nixify info`'s reader on a 100 MB docker-archive (plain and gzip): wall
// time per run and the process's peak memory. Run: go run ./bench/info
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/image/imagetest"
)

func main() {
	dir, err := os.MkdirTemp("", "nixify-bench-info-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	for _, comp := range []string{"", "gzip", "zstd"} {
		p := filepath.Join(dir, "img-"+comp+".tar")
		// 50 layers of 2 MB of random bytes: about 100 MB of layer tars.
		if _, err := imagetest.WriteFile(p, imagetest.Spec{Layers: 50, LayerSize: 2 << 20, Compress: comp}); err != nil {
			panic(err)
		}
		st, _ := os.Stat(p)
		runtime.GC()
		var best time.Duration
		for i := 0; i < 5; i++ {
			start := time.Now()
			img, err := imagetest.Open(p)
			if err != nil {
				panic(err)
			}
			if _, err := image.Describe(img); err != nil {
				panic(err)
			}
			if d := time.Since(start); best == 0 || d < best {
				best = d
			}
		}
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		name := comp
		if name == "" {
			name = "plain"
		}
		fmt.Printf("info %-5s archive %6.1f MB: best of 5 %4d ms, process peak RSS %d MB\n", name, float64(st.Size())/1e6, best.Milliseconds(), ru.Maxrss/1024)
	}
}
