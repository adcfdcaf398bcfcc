package health

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestServicesFlattensChecks(t *testing.T) {
	fast, slow := 0.002, 0.5
	now := time.Now()
	r := &Response{Status: Fail, Checks: map[string][]Check{
		"redis:responseTime": {{ComponentID: "redis", ObservedValue: &fast, ObservedUnit: "s", Status: Pass, Time: now}},
		"garage:responseTime": {
			{ComponentID: "admin", ObservedValue: &fast, ObservedUnit: "s", Status: Warn, Time: now, Output: "degraded: x"},
			{ComponentID: "s3", ObservedValue: &slow, ObservedUnit: "s", Status: Fail, Time: now.Add(-time.Second), Output: "no such bucket"},
		},
		"postgres:responseTime": {{ComponentID: "postgres", Status: Disabled, Output: "not in NIXIFY_SERVICES"}},
	}}
	rows := r.Services()
	if len(rows) != 3 || rows[0].Name != "garage" || rows[1].Name != "postgres" || rows[2].Name != "redis" {
		t.Fatalf("rows %+v", rows)
	}
	g := rows[0]
	if g.Status != Fail || g.Latency != 500*time.Millisecond || g.Output != "admin: degraded: x; s3: no such bucket" ||
		!g.Checked.Equal(now.Add(-time.Second)) || g.Disabled {
		t.Fatalf("garage %+v", g)
	}
	// Issue 23: a disabled service was "status":"pass" in JSON while text said disabled.
	if !rows[1].Disabled || rows[1].Status != Disabled {
		t.Fatalf("postgres %+v", rows[1])
	}
	if !Disabled.OK() || Pass.Worse(Disabled) != Pass || Disabled.Worse(Fail) != Fail {
		t.Fatalf("disabled must count for nothing in a verdict")
	}
	if rows[2].Latency != 2*time.Millisecond || rows[2].Output != "" {
		t.Fatalf("redis %+v", rows[2])
	}
}

func TestClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health/redis":
			if r.URL.Query().Get("fresh") != "1" {
				t.Errorf("fresh not asked: %s", r.URL)
			}
			w.Header().Set("Content-Type", MediaType)
			w.WriteHeader(503)
			w.Write([]byte(`{"status":"fail","output":"redis: connection refused"}`))
		default:
			w.Write([]byte("<html>not json"))
		}
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL+"/", WithFresh())
	if err != nil {
		t.Fatal(err)
	}
	r, code, err := c.Health(context.Background(), "redis")
	if err != nil || code != 503 || r.Status != Fail || r.Output != "redis: connection refused" {
		t.Fatalf("Health: %v %d %+v", err, code, r)
	}
	if _, _, err := c.Health(context.Background(), ""); err == nil {
		t.Fatal("Health accepted a body that is not JSON")
	}
	for _, bad := range []string{"", "127.0.0.1:80", "ftp://x", "http://"} {
		if _, err := NewClient(bad); err == nil {
			t.Errorf("NewClient(%q) accepted", bad)
		}
	}
}

// The supervisor's view of a service (issue 13) reaches the flattened rows `nixify status` shows.
func TestServicesCarryTheSupervisorsView(t *testing.T) {
	since := time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)
	body := `{"status":"pass","checks":{"redis:responseTime":[{"componentId":"redis","status":"pass",` +
		`"state":"running","since":"2026-11-30T01:00:00Z","restarts":2}]}}`
	var r Response
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	rows := r.Services()
	if len(rows) != 1 || rows[0].State != "running" || !rows[0].Since.Equal(since) || rows[0].Restarts != 2 {
		t.Fatalf("rows %+v", rows)
	}
}
