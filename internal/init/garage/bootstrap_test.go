package garage

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/init/garage/garagetest"
)

const (
	testKey    = "GK0123456789abcdef01234567"
	testSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func plan() Plan {
	return Plan{Zone: "dc1", Capacity: 1 << 30, KeyName: "nixify", AccessKey: testKey, SecretKey: testSecret, Bucket: "nixify"}
}

// mutations keeps the calls that change state.
func mutations(calls []string) []string {
	var out []string
	for _, c := range calls {
		if strings.HasPrefix(c, "POST ") {
			out = append(out, strings.TrimPrefix(c, "POST "))
		}
	}
	return out
}

func TestBootstrapFreshNodeThenSecondBootChangesNothing(t *testing.T) {
	double := garagetest.New("admintoken", "")
	srv := httptest.NewServer(double)
	t.Cleanup(srv.Close)
	c := NewClient(srv.URL, "admintoken")
	ctx := context.Background()

	if err := c.Health(ctx); err != nil {
		t.Fatalf("health on fresh node (503) should count as up: %v", err)
	}
	var logged []string
	logf := func(f string, a ...any) { logged = append(logged, f) }
	if err := Bootstrap(ctx, c, plan(), logf); err != nil {
		t.Fatal(err)
	}
	want := []string{"UpdateClusterLayout", "ApplyClusterLayout", "ImportKey", "CreateBucket", "AllowBucketKey"}
	if got := mutations(double.Calls()); !slices.Equal(got, want) {
		t.Fatalf("first boot calls %v, want %v", got, want)
	}
	st := double.Snapshot()
	if st.LayoutVersion != 1 || len(st.Roles) != 1 || st.Keys[testKey] != testSecret || len(st.Buckets) != 1 {
		t.Fatalf("state after first boot: %+v", st)
	}
	for _, b := range st.Buckets {
		if p := b.Perms[testKey]; b.Alias != "nixify" || !p["read"] || !p["write"] || !p["owner"] {
			t.Errorf("bucket %+v", b)
		}
	}

	before := len(double.Calls())
	if err := Bootstrap(ctx, c, plan(), logf); err != nil {
		t.Fatalf("second boot: %v", err)
	}
	// The only write a second boot makes is the import, which the server refuses with 409.
	if got := mutations(double.Calls()[before:]); !slices.Equal(got, []string{"ImportKey"}) {
		t.Fatalf("second boot writes %v, want only the refused ImportKey", got)
	}
	if st2 := double.Snapshot(); st2.LayoutVersion != 1 || len(st2.Buckets) != 1 {
		t.Fatalf("second boot changed state: %+v", st2)
	}
}

func TestBootstrapReportsWrongToken(t *testing.T) {
	srv := httptest.NewServer(garagetest.New("right", ""))
	t.Cleanup(srv.Close)
	err := Bootstrap(context.Background(), NewClient(srv.URL, "wrong"), plan(), func(string, ...any) {})
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("err = %v, want a 403", err)
	}
}

func TestBootstrapRejectsBadKeyFormat(t *testing.T) {
	srv := httptest.NewServer(garagetest.New("t", ""))
	t.Cleanup(srv.Close)
	p := plan()
	p.AccessKey = "not-a-key"
	err := Bootstrap(context.Background(), NewClient(srv.URL, "t"), p, func(string, ...any) {})
	if err == nil || !strings.Contains(err.Error(), "import access key not-a-key") {
		t.Fatalf("err = %v", err)
	}
}

func TestHealthDownIsError(t *testing.T) {
	srv := httptest.NewServer(garagetest.New("t", ""))
	url := srv.URL
	srv.Close()
	if err := NewClient(url, "t").Health(context.Background()); err == nil {
		t.Fatal("health of a closed server succeeded")
	}
}
