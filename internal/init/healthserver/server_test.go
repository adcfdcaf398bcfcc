package healthserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/init/board"
	"github.com/nixify/nixify/internal/testpeer"
	"github.com/nixify/nixify/pkg/health"
)

// peers is one of each real service (and the Garage admin test double) for server tests.
type peers struct {
	cfg   Config
	redis *testpeer.Process
	pg    *testpeer.Postgres
	s3    *testpeer.Versitygw
	admin *testpeer.GarageAdmin
}

func startPeers(t *testing.T) *peers {
	t.Helper()
	p := &peers{}
	p.redis = testpeer.StartRedisProcess(t, testpeer.RedisOptions{Password: redisPass})
	p.pg = testpeer.StartPostgresProcess(t, testpeer.PostgresOptions{Password: pgPass})
	garage, s3, admin := garagePeers(t)
	p.s3, p.admin = s3, admin
	p.cfg = Config{
		Interval: 1100 * time.Millisecond, Timeout: time.Second,
		Services: []string{Postgres, Redis, Garage}, Name: "nixify", Version: "test",
		Redis:    RedisTarget{Host: p.redis.Host, Port: p.redis.Port, Password: redisPass},
		Postgres: PostgresTarget{Host: p.pg.Host, Port: p.pg.Port, User: p.pg.User, Password: pgPass, Database: "postgres"},
		Garage:   garage,
	}
	return p
}

// serve runs s on a random loopback port until the test ends and returns its base URL.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// get fetches a path and asserts that no secret is in the body.
func get(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, s := range append(allSecrets, s3Access) {
		if bytes.Contains(body, []byte(s)) {
			t.Fatalf("GET %s: body contains a secret:\n%s", url, body)
		}
	}
	return resp.StatusCode, string(body)
}

// eventually polls cond until it holds; the limit is generous and only bounds a broken test.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServerEndpoints(t *testing.T) {
	p := startPeers(t)
	base := serve(t, NewServer(p.cfg, nil))
	client, err := health.NewClient(base)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	eventually(t, "/health 200", func() bool { code, _ := get(t, base+"/health"); return code == 200 })

	resp, code, err := client.Health(ctx, "")
	if err != nil || code != 200 || resp.Status != health.Pass {
		t.Fatalf("Health: %v %d %+v", err, code, resp)
	}
	for _, key := range []string{"postgres:responseTime", "redis:responseTime", "garage:responseTime"} {
		if len(resp.Checks[key]) == 0 {
			t.Fatalf("no %s in %+v", key, resp.Checks)
		}
	}
	if g := resp.Checks["garage:responseTime"]; len(g) != 2 || g[0].ComponentID != "admin" || g[1].ComponentID != "s3" {
		t.Fatalf("garage checks: %+v", g)
	}
	rows := resp.Services()
	if len(rows) != 3 || rows[0].Name != "garage" || rows[1].Name != "postgres" || rows[2].Name != "redis" {
		t.Fatalf("Services: %+v", rows)
	}
	for _, r := range rows {
		if r.Status != health.Pass || r.Latency <= 0 || r.Checked.IsZero() {
			t.Fatalf("row %+v", r)
		}
	}

	for _, path := range []string{"/health/redis", "/health/postgres", "/health/garage", "/readyz", "/livez"} {
		if code, body := get(t, base+path); code != 200 || !strings.Contains(body, `"status":"pass"`) {
			t.Fatalf("%s: %d %s", path, code, body)
		}
	}
	if code, body := get(t, base+"/health/mysql"); code != 404 || !strings.Contains(body, "unknown service") {
		t.Fatalf("/health/mysql: %d %s", code, body)
	}
	if code, _ := get(t, base+"/nope"); code != 404 {
		t.Fatalf("/nope: %d", code)
	}

	code, body := get(t, base+"/", "Accept", "application/json")
	var info health.Info
	if err := json.Unmarshal([]byte(body), &info); code != 200 || err != nil {
		t.Fatalf("GET /: %d %v %s", code, err, body)
	}
	if info.Name != "nixify" || info.Version != "test" || info.Phase != "ready" || len(info.Services) != 3 {
		t.Fatalf("info %+v", info)
	}
	for _, s := range info.Services {
		if s.State != "external" || s.Port != p.cfg.Port(s.Name) || s.Status != health.Pass {
			t.Fatalf("service %+v", s)
		}
	}

	code, metrics := get(t, base+"/metrics")
	for _, want := range []string{
		`nixify_health_up{service="redis"} 1`,
		`nixify_health_check_status{service="garage",component="s3",status="pass"} 1`,
		`nixify_health_check_latency_seconds{service="postgres",component="postgres"}`,
		`nixify_health_probes_total{service="redis",status="pass"}`,
		`nixify_health_requests_total{route="/health",code="200"}`,
		"nixify_health_ready 1",
	} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Fatalf("/metrics lacks %q:\n%s", want, metrics)
		}
	}
}

func TestServerFailingServiceAnd503(t *testing.T) {
	p := startPeers(t)
	s := NewServer(p.cfg, nil)
	base := serve(t, s)
	eventually(t, "/health 200", func() bool { code, _ := get(t, base+"/health"); return code == 200 })

	p.redis.Stop(t)
	eventually(t, "/health 503 after redis stops", func() bool { code, _ := get(t, base+"/health"); return code == 503 })
	code, body := get(t, base+"/health")
	if !strings.Contains(body, "redis: connection refused") {
		t.Fatalf("503 body does not say why: %s", body)
	}
	if code, _ := get(t, base+"/health/redis"); code != 503 {
		t.Fatalf("/health/redis %d", code)
	}
	if code, _ := get(t, base+"/health/postgres"); code != 200 {
		t.Fatalf("/health/postgres %d", code)
	}
	_ = code

	// Degraded Garage warns but stays healthy.
	p.admin.Set(testpeer.GarageDegraded)
	eventually(t, "garage warns", func() bool {
		code, body := get(t, base+"/health/garage")
		return code == 200 && strings.Contains(body, `"status":"warn"`)
	})
	p.admin.Set(testpeer.GarageUnavailable)
	eventually(t, "garage fails", func() bool { code, _ := get(t, base+"/health/garage"); return code == 503 })
}

func TestServerFollowsBoard(t *testing.T) {
	p := startPeers(t)
	b := board.NewBoard(Postgres, Redis, Garage)
	b.Update(Garage, func(s *board.Service) { s.State = board.Disabled })
	b.Update(Redis, func(s *board.Service) { s.State = board.Running; s.Port = 16379 })
	b.Update(Postgres, func(s *board.Service) { s.State = board.Running })
	base := serve(t, NewServer(p.cfg, b))

	// Checks pass, but the init is still starting.
	for _, svc := range []string{"redis", "postgres"} {
		eventually(t, svc+" passes", func() bool { code, _ := get(t, base+"/health/"+svc); return code == 200 })
	}
	code, body := get(t, base+"/health")
	if code != 503 || !strings.Contains(body, "init is starting") {
		t.Fatalf("starting: %d %s", code, body)
	}
	b.SetPhase(board.Ready)
	if code, body := get(t, base+"/health"); code != 200 {
		t.Fatalf("ready: %d %s", code, body)
	}
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("readyz: %d", code)
	}
	code, body = get(t, base+"/health/garage")
	// Issue 23: "status":"pass" while the text said disabled; one word now, everywhere.
	if code != 200 || !strings.HasPrefix(body, `{"status":"disabled"`) || strings.Contains(body, `"pass"`) {
		t.Fatalf("disabled garage: %d %s", code, body)
	}
	if p.admin.Hits() != 0 {
		t.Fatalf("a disabled service was probed %d times", p.admin.Hits())
	}
	_, body = get(t, base+"/")
	if !strings.Contains(body, `"name":"redis","state":"running","since":"`) || !strings.Contains(body, `"port":16379`) ||
		!strings.Contains(body, `"name":"garage","state":"disabled"`) || !strings.Contains(body, `"status":"disabled"`) {
		t.Fatalf("GET / does not show the board: %s", body)
	}
	b.SetPhase(board.Stopping)
	if code, _ := get(t, base+"/health"); code != 503 {
		t.Fatalf("stopping: %d", code)
	}
	if code, _ := get(t, base+"/livez"); code != 200 {
		t.Fatalf("livez while stopping: %d", code)
	}
}

// A service that accepts connections and never answers: requests are answered from the latest result
// while its probe hangs, and the probe fails at its timeout. The first server's timeout is an hour,
// so its probe is still in flight whatever the machine's speed; the second's is short.
func TestServerStaysResponsiveWhileAProbeHangs(t *testing.T) {
	h, port := hostPort(t, testpeer.Silent(t))
	target := RedisTarget{Host: h, Port: port, Password: redisPass}
	s := NewServer(Config{Interval: 2 * time.Hour, Timeout: time.Hour, Services: []string{Redis}, Redis: target}, nil)
	base := serve(t, s)
	p := s.probers[Redis]
	inFlight := func() bool { p.mu.Lock(); defer p.mu.Unlock(); return p.inflight != nil }
	eventually(t, "probe started", inFlight)
	code, body := get(t, base+"/health")
	if code != 503 || !strings.Contains(body, "not checked yet") || !inFlight() {
		t.Fatalf("while hung: %d %s (probe in flight: %v)", code, body, inFlight())
	}

	s = NewServer(Config{Interval: time.Hour, Timeout: 300 * time.Millisecond, Services: []string{Redis}, Redis: target}, nil)
	base = serve(t, s)
	p = s.probers[Redis]
	// A failing service is probed again soon (with backoff), so wait for the first result rather
	// than for no probe in flight.
	eventually(t, "probe times out", func() bool { return p.latest.Load() != nil })
	code, body = get(t, base+"/health/redis")
	if code != 503 || !strings.Contains(body, "timeout") {
		t.Fatalf("after timeout: %d %s", code, body)
	}
}

// Fresh requests share one probe per service however many arrive together.
func TestFreshRequestsShareOneProbe(t *testing.T) {
	r := testpeer.StartRedisProcess(t, testpeer.RedisOptions{Password: redisPass})
	cfg := Config{Interval: 10 * time.Second, Timeout: 3 * time.Second, Services: []string{Redis},
		Redis: RedisTarget{Host: r.Host, Port: r.Port, Password: redisPass}}
	s := NewServer(cfg, nil)
	base := serve(t, s)
	p := s.probers[Redis]
	eventually(t, "first probe", func() bool { return p.latest.Load() != nil })
	time.Sleep(cfg.Interval/freshDivisor + 100*time.Millisecond) // let the first result age out of freshness

	// Paused, Redis holds the probe open so that every request below arrives while it is in flight.
	r.Pause(t)
	before := p.started.Load()
	const n = 40
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(base + "/health/redis?fresh=1")
			if err == nil {
				codes[i] = resp.StatusCode
				resp.Body.Close()
			}
		}()
	}
	eventually(t, "all requests joined", func() bool { return p.shared.Load() == n-1 })
	r.Resume(t)
	wg.Wait()
	if got := p.started.Load() - before; got != 1 {
		t.Fatalf("%d fresh requests started %d probes, want 1", n, got)
	}
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("request %d: code %d", i, c)
		}
	}
}

func envMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestRunStandalone(t *testing.T) {
	r := testpeer.StartRedisProcess(t, testpeer.RedisOptions{})
	port := testpeer.FreePort(t)
	env := map[string]string{"APP_PORT": strconv.Itoa(port), "NIXIFY_SERVICES": "redis",
		"REDIS_HOST": r.Host, "REDIS_PORT": strconv.Itoa(r.Port), "NIXIFY_HEALTH_INTERVAL": "200ms",
		"NIXIFY_HEALTH_TIMEOUT": "100ms"}
	ctx, cancel := context.WithCancel(context.Background())
	var out testpeer.Buffer
	done := make(chan error, 1)
	go func() { done <- RunStandalone(ctx, envMap(env), &out) }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	eventually(t, "standalone /health 200", func() bool {
		resp, err := http.Get(base + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunStandalone: %v", err)
	}
	if s := out.String(); !strings.Contains(s, "health server on 127.0.0.1:") && !strings.Contains(s, "health server on [::]:") ||
		!strings.Contains(s, "health: redis pass") {
		t.Fatalf("stdout: %q", s)
	}

	env["APP_PORT"] = "abc"
	err := RunStandalone(context.Background(), envMap(env), io.Discard)
	if err == nil || !strings.Contains(err.Error(), `APP_PORT="abc"`) {
		t.Fatalf("bad APP_PORT: %v", err)
	}
}

// The status page renders in a real headless Chromium with one row per service.
func TestStatusPageInChromium(t *testing.T) {
	chromium := testpeer.Browser(t)
	p := startPeers(t)
	b := board.NewBoard(Postgres, Redis, Garage)
	b.Update(Garage, func(s *board.Service) { s.State = board.Disabled })
	b.Update(Redis, func(s *board.Service) {
		s.State, s.Restarts = board.Running, 1
		s.LastRestart, s.RestartReason = time.Now().Add(-90*time.Minute), "exited (exit status 1): Out Of Memory"
	})
	b.Update(Postgres, func(s *board.Service) { s.State = board.Running })
	b.SetPhase(board.Ready)
	p.cfg.Container = "shop-db"
	base := serve(t, NewServer(p.cfg, b))
	eventually(t, "/health 200", func() bool { code, _ := get(t, base+"/health"); return code == 200 })

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--dump-dom", base+"/")
	out, err := cmd.Output()
	if err != nil {
		testpeer.Missing(t, "chromium", fmt.Sprintf("headless run failed: %v", err))
	}
	dom := string(out)
	if n := strings.Count(dom, `<tr class="service"`); n != 3 {
		t.Fatalf("want 3 service rows, got %d:\n%s", n, dom)
	}
	// Issue 13: per service its state, uptime, restarts, last check and latency in readable units;
	// no port column, since what the container publishes only the engine knows.
	for _, want := range []string{`data-service="postgres"`, `data-service="redis"`, `data-service="garage"`, `id="overall">pass<`, ">disabled<",
		"<th>uptime</th>", "<th>restarts</th>", "<th>last check</th>", " ago<", " ms<",
		// Issue 23: the page names the container and where it was reached, says when it was
		// rendered and why a service last restarted.
		"container shop-db · reached at " + strings.TrimPrefix(base, "http://") + " · rendered <time datetime=\"",
		"1 (last 1 h 30 min ago: exited (exit status 1): Out Of Memory)"} {
		if !strings.Contains(dom, want) {
			t.Fatalf("page lacks %q:\n%s", want, dom)
		}
	}
	if strings.Contains(dom, "<th>port</th>") {
		t.Fatalf("the page claims ports:\n%s", dom)
	}
}
