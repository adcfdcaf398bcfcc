package healthserver

import (
	"net/http"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/testpeer"
	"github.com/nixify/nixify/pkg/health"
)

// garageTarget points at a versitygw standing in for Garage's S3 API (region garage, real SigV4
// checks) and at the GarageAdmin test double for its admin /health.
func garagePeers(t *testing.T) (GarageTarget, *testpeer.Versitygw, *testpeer.GarageAdmin) {
	t.Helper()
	s3 := testpeer.StartVersitygwProcess(t, s3Access, s3Secret, "garage")
	s3.Bucket(t, "nixify")
	admin := testpeer.StartGarageAdmin(t)
	h, adminPort := hostPort(t, admin.Addr)
	return GarageTarget{Host: h, S3Port: s3.Port, AdminPort: adminPort, Region: "garage", Bucket: "nixify",
		AccessKey: s3Access, SecretKey: s3Secret, AdminToken: adminToken}, s3, admin
}

func TestGarageCheck(t *testing.T) {
	target, s3, admin := garagePeers(t)
	with := func(f func(*GarageTarget)) GarageTarget { c := target; f(&c); return c }
	check := func(t *testing.T, tg GarageTarget, timeout time.Duration) (adminObs, s3Obs observation) {
		t.Helper()
		obs := run(t, checkerFor(Garage, Config{Garage: tg}), timeout)
		if len(obs) != 2 || obs[0].Component != "admin" || obs[1].Component != "s3" {
			t.Fatalf("want admin and s3 observations, got %+v", obs)
		}
		return obs[0], obs[1]
	}

	t.Run("healthy", func(t *testing.T) {
		a, s := check(t, target, 5*time.Second)
		wantObs(t, a, health.Pass, "")
		wantObs(t, s, health.Pass, "")
	})
	t.Run("degraded", func(t *testing.T) {
		admin.Set(testpeer.GarageDegraded)
		defer admin.Set(testpeer.GarageHealthy)
		a, _ := check(t, target, 5*time.Second)
		wantObs(t, a, health.Warn, "degraded")
	})
	t.Run("no quorum", func(t *testing.T) {
		admin.Set(testpeer.GarageUnavailable)
		defer admin.Set(testpeer.GarageHealthy)
		a, _ := check(t, target, 5*time.Second)
		wantObs(t, a, health.Fail, "no quorum")
	})
	t.Run("no such bucket", func(t *testing.T) {
		_, s := check(t, with(func(g *GarageTarget) { g.Bucket = "missing" }), 5*time.Second)
		wantObs(t, s, health.Fail, `no such bucket "missing"`)
	})
	t.Run("wrong secret", func(t *testing.T) {
		_, s := check(t, with(func(g *GarageTarget) { g.SecretKey = "wrong-Secret-999" }), 5*time.Second)
		wantObs(t, s, health.Fail, "access denied")
	})
	t.Run("wrong region", func(t *testing.T) {
		_, s := check(t, with(func(g *GarageTarget) { g.Region = "us-east-1" }), 5*time.Second)
		if s.Status != health.Fail {
			t.Fatalf("a request signed for another region passed: %+v", s)
		}
	})
	t.Run("no key", func(t *testing.T) {
		_, s := check(t, with(func(g *GarageTarget) { g.AccessKey = "" }), 5*time.Second)
		wantObs(t, s, health.Fail, "GARAGE_ACCESS_KEY")
	})
	t.Run("refused", func(t *testing.T) {
		h, p := hostPort(t, testpeer.Refused(t))
		a, s := check(t, with(func(g *GarageTarget) { g.Host, g.S3Port, g.AdminPort = h, p, p }), 5*time.Second)
		wantObs(t, a, health.Fail, "connection refused")
		wantObs(t, s, health.Fail, "connection refused")
	})
	t.Run("hung", func(t *testing.T) {
		h, p := hostPort(t, testpeer.Silent(t))
		a, s := check(t, with(func(g *GarageTarget) { g.Host, g.S3Port, g.AdminPort = h, p, p }), 300*time.Millisecond)
		wantObs(t, a, health.Fail, "timeout")
		wantObs(t, s, health.Fail, "timeout")
	})
	t.Run("s3 paused", func(t *testing.T) {
		s3.Pause(t)
		defer s3.Resume(t)
		a, s := check(t, target, 300*time.Millisecond)
		wantObs(t, a, health.Pass, "")
		wantObs(t, s, health.Fail, "timeout")
	})
}

// The example from AWS's SigV4 documentation for S3 ("GET Object" with a Range header).
func TestSignV4KnownAnswer(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "https://examplebucket.s3.amazonaws.com/test.txt", nil)
	req.Header.Set("Range", "bytes=0-9")
	signV4(req, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3",
		time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC))
	want := "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
		"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, " +
		"Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
	if got := req.Header.Get("Authorization"); got != want {
		t.Fatalf("Authorization\n got %s\nwant %s", got, want)
	}
}
