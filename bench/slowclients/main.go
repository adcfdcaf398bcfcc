// Command slowclients holds N connections trickling request headers into an HTTP server (one byte
// every 500 ms; a connection the server closes comes back) and meanwhile probes a path on fresh
// connections, as Docker's healthcheck or an orchestrator would. It prints how many probes were
// answered and the server process's resident memory (VmRSS at its highest while probing, and
// VmHWM). bench/init/slowclients.sh runs it against nixify-init and a plain net/http server.
//
//	slowclients -url http://127.0.0.1:48180/health -pid 1234 -conns 2000 -probes 16
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	target := flag.String("url", "", "URL to probe; the slow connections go to its host")
	pid := flag.Int("pid", 0, "the server's process, for its resident memory")
	conns := flag.Int("conns", 2000, "slow connections to hold")
	probes := flag.Int("probes", 16, "probes, 250 ms apart, each on a fresh connection with a 3 s limit")
	name := flag.String("name", "", "label of the output line")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || u.Host == "" || *pid == 0 {
		fmt.Fprintln(os.Stderr, "slowclients: -url http://HOST:PORT/PATH and -pid PID are required")
		os.Exit(2)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var open atomic.Int64
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			trickle(ctx, u.Host, &open)
		}()
	}
	for deadline := time.Now().Add(30 * time.Second); open.Load() < int64(*conns) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	held := open.Load()
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	answered, maxRSS := 0, 0
	var slowest time.Duration
	for range *probes {
		began := time.Now()
		if resp, err := client.Get(*target); err == nil {
			resp.Body.Close()
			answered++
			slowest = max(slowest, time.Since(began))
		}
		maxRSS = max(maxRSS, vm(*pid, "VmRSS:"))
		time.Sleep(250 * time.Millisecond)
	}
	fmt.Printf("%-22s %d slow connections held: %d/%d probes answered (slowest %d ms), RSS up to %.1f MB, VmHWM %.1f MB\n",
		*name, held, answered, *probes, slowest.Milliseconds(), float64(maxRSS)/1024, float64(vm(*pid, "VmHWM:"))/1024)
	cancel()
	wg.Wait()
}

// trickle holds one slow connection until ctx ends, reconnecting when the server closes it.
func trickle(ctx context.Context, host string, open *atomic.Int64) {
	for ctx.Err() == nil {
		c, err := net.DialTimeout("tcp", host, time.Second)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		open.Add(1)
		_, err = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "))
		for err == nil && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
			_, err = c.Write([]byte("a"))
		}
		c.Close()
		open.Add(-1)
	}
}

// vm reads one memory line of /proc/PID/status, in kB.
func vm(pid int, key string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key) {
			var kb int
			fmt.Sscan(strings.TrimPrefix(line, key), &kb)
			return kb
		}
	}
	return 0
}
