package healthserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/init/board"
	"github.com/nixify/nixify/internal/testpeer"
	"github.com/nixify/nixify/pkg/health"
)

// TestBoardChangesTriggerAProbe: with a one-hour interval, only the supervisor's state changes can
// make the server probe again; before issue 11 /health kept the old verdict until the next interval.
// A service the board does not report running is not probed and fails.
func TestBoardChangesTriggerAProbe(t *testing.T) {
	r := testpeer.StartRedisProcess(t, testpeer.RedisOptions{Password: redisPass})
	cfg := Config{Interval: time.Hour, Timeout: time.Second, Services: []string{Redis},
		Redis: RedisTarget{Host: r.Host, Port: r.Port, Password: redisPass}}
	b := board.NewBoard(Postgres, Redis, Garage)
	b.Update(Postgres, func(s *board.Service) { s.State = board.Disabled })
	b.Update(Garage, func(s *board.Service) { s.State = board.Disabled })
	b.Update(Redis, func(s *board.Service) { s.State = board.Booting; s.PID = 100 })
	b.SetPhase(board.Ready)
	s := NewServer(cfg, b)
	base := serve(t, s)
	if code, body := get(t, base+"/health"); code != 503 || !strings.Contains(body, "not running: the init reports it booting") {
		t.Fatalf("booting: %d %s", code, body)
	}
	if n := s.probers[Redis].started.Load(); n != 0 {
		t.Fatalf("a booting service was probed %d times", n)
	}
	b.Update(Redis, func(s *board.Service) { s.State = board.Running })
	eventually(t, "/health 200 once the board says running", func() bool { code, _ := get(t, base+"/health"); return code == 200 })

	// Redis dies; the board says running again (as after a restart): only a new probe can tell
	// that the latest result, a pass, is stale.
	r.Stop(t)
	b.Update(Redis, func(s *board.Service) { s.State = board.Restarting; s.PID = 0 })
	b.Update(Redis, func(s *board.Service) { s.State = board.Running; s.PID = 101 })
	eventually(t, "a probe after the restart fails", func() bool {
		_, body := get(t, base+"/health/redis")
		return strings.Contains(body, "connection refused")
	})
	b.Update(Redis, func(s *board.Service) { s.State = board.Restarting; s.PID = 0; s.Restarts++ })
	eventually(t, "/health 503 after the board says redis is restarting", func() bool {
		code, _ := get(t, base+"/health")
		return code == 503
	})
	code, body := get(t, base+"/health")
	var resp health.Response
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("%d %s: %v", code, body, err)
	}
	var redis health.Service
	for _, s := range resp.Services() {
		if s.Name == Redis {
			redis = s
		}
	}
	if redis.State != "restarting" || redis.Restarts != 1 || redis.Since.IsZero() {
		t.Fatalf("/health does not carry the supervisor's view: %+v\n%s", redis, body)
	}
	_, metrics := get(t, base+"/metrics")
	for _, want := range []string{`nixify_service_restarts_total{service="redis"} 1`, `nixify_service_state{service="redis",state="restarting"} 1`,
		`nixify_service_state_since_seconds{service="redis"} `} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestFreshRequestsAreBounded: however many fresh requests arrive, a service is probed at most
// once per interval/5 (issue 11: 11 probes in 10 s at a 5 s interval before).
func TestFreshRequestsAreBounded(t *testing.T) {
	r := testpeer.StartRedisProcess(t, testpeer.RedisOptions{Password: redisPass})
	cfg := Config{Interval: time.Second, Timeout: 500 * time.Millisecond, Services: []string{Redis},
		Redis: RedisTarget{Host: r.Host, Port: r.Port, Password: redisPass}}
	s := NewServer(cfg, nil)
	base := serve(t, s)
	p := s.probers[Redis]
	eventually(t, "first probe", func() bool { return p.latest.Load() != nil })
	const window = 2 * time.Second
	before := p.started.Load()
	began := time.Now()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(began) < window {
				if resp, err := http.Get(base + "/health?fresh=1"); err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	gap := cfg.Interval / freshDivisor
	if got, limit := p.started.Load()-before, uint64(elapsed/gap)+1; got > limit {
		t.Fatalf("%d probes started in %s, want at most %d (one per %s)", got, elapsed, limit, gap)
	}
}

func TestNextDelayBacksOffWhileFailing(t *testing.T) {
	fail, pass := &Result{Status: health.Fail}, &Result{Status: health.Pass}
	var got []time.Duration
	var backoff time.Duration
	for range 8 {
		var d time.Duration
		d, backoff = nextDelay(fail, backoff, time.Second)
		got = append(got, d)
	}
	if want := "[50ms 100ms 200ms 400ms 800ms 1s 1s 1s]"; fmt.Sprint(got) != want {
		t.Fatalf("failing delays %v, want %s", got, want)
	}
	if d, b := nextDelay(pass, backoff, time.Second); d != time.Second || b != 0 {
		t.Fatalf("passing: %s %s", d, b)
	}
}

// TestHugeHeadersAreRefused: a client sending a megabyte of headers gets 431 after a few KiB, not a
// server that buffers it all (issue 11: 764 MB under 400 such connections).
func TestHugeHeadersAreRefused(t *testing.T) {
	s := NewServer(Config{Interval: time.Hour, Services: []string{Redis}, Redis: RedisTarget{Host: "127.0.0.1", Port: 1}}, nil)
	base := serve(t, s)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		fmt.Fprintf(conn, "GET /health HTTP/1.1\r\nHost: x\r\n")
		line := "X-Filler: " + strings.Repeat("a", 1000) + "\r\n"
		for i := 0; i < 1000 && ctx.Err() == nil; i++ {
			if _, err := conn.Write([]byte(line)); err != nil {
				return
			}
		}
	}()
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, "431") {
		t.Fatalf("status line %q, %v", status, err)
	}
}

// BenchmarkHealthCached is the hot path under load: /health served from the rendered body.
// go test -run '^$' -bench BenchmarkHealthCached -benchmem ./internal/init/healthserver
func BenchmarkHealthCached(b *testing.B) {
	bd := board.NewBoard(Postgres, Redis, Garage)
	for _, n := range []string{Postgres, Redis, Garage} {
		bd.Update(n, func(s *board.Service) { s.State = board.Disabled })
	}
	bd.SetPhase(board.Ready)
	s := NewServer(Config{Interval: time.Hour, Services: []string{Redis}}, bd)
	h := s.Handler()
	req, _ := http.NewRequest(http.MethodGet, "/health", nil)
	w := &discardWriter{header: http.Header{}}
	h.ServeHTTP(w, req)
	b.ReportAllocs()
	for b.Loop() {
		clear(w.header)
		h.ServeHTTP(w, req)
	}
}

type discardWriter struct{ header http.Header }

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// TestEveryPhaseOfAConnectionHasADeadline: a client cannot hold a connection by trickling headers
// (of its first request or of a next one on a kept-alive connection), by announcing a body it never
// sends, or by idling between requests (issue 11). Each phase is closed after its own net/http
// timeout.
func TestEveryPhaseOfAConnectionHasADeadline(t *testing.T) {
	s := NewServer(Config{Interval: time.Hour, Timeout: 100 * time.Millisecond, Services: []string{Redis},
		Redis: RedisTarget{Host: "127.0.0.1", Port: 1}}, nil)
	// The idle budget is far from the others, so that a phase bounded by the wrong budget shows.
	s.limits = timeouts{header: 200 * time.Millisecond, read: 400 * time.Millisecond, write: 200 * time.Millisecond, idle: 2 * time.Second}
	short := s.limits.read
	addr := strings.TrimPrefix(serve(t, s), "http://")
	for _, tc := range []struct {
		name    string
		first   string // a whole request answered before send, if any
		send    string
		trickle bool // then one more byte every 50 ms
		want    time.Duration
	}{
		{name: "headers trickled", send: "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ", trickle: true, want: s.limits.header},
		{name: "body announced, never sent", send: "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab", want: short},
		{name: "body announced on GET /health", send: "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab", want: short},
		{name: "body trickled", send: "POST /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab", trickle: true, want: short},
		{name: "idle after a request", send: "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n", want: s.limits.idle},
		// net/http calls a kept-alive connection active only once the headers are complete: the
		// first byte of the next request must start the header budget, not leave it idle.
		{name: "second request trickled", first: "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n",
			send: "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ", trickle: true, want: s.limits.header},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			br := bufio.NewReader(conn)
			if tc.first != "" {
				if _, err := conn.Write([]byte(tc.first)); err != nil {
					t.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			began := time.Now()
			if _, err := conn.Write([]byte(tc.send)); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			defer close(stop)
			if tc.trickle {
				go func() {
					for {
						select {
						case <-stop:
							return
						case <-time.After(50 * time.Millisecond):
						}
						if _, err := conn.Write([]byte("a")); err != nil {
							return
						}
					}
				}()
			}
			// The server's close shows as the end of the stream, or as a reset when a trickled
			// byte arrived after it; only the test's own deadline means the connection was kept.
			if _, err := io.Copy(io.Discard, br); errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the server kept the connection open: %v", err)
			}
			d := time.Since(began)
			// The server starts a deadline when it reads the first byte, a little after began.
			if d < tc.want-50*time.Millisecond {
				t.Fatalf("closed after %s, before its budget %s", d, tc.want)
			}
			// Slack for a loaded machine, below the idle budget, which the short phases must not get.
			if slack := time.Second; tc.want < s.limits.idle && d > tc.want+slack || d > tc.want+2*slack {
				t.Fatalf("closed after %s, want about %s", d, tc.want)
			}
		})
	}
}
