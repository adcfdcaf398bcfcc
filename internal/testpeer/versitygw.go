package testpeer

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Versitygw is a running versitygw and its storage root.
type Versitygw struct {
	*Process
	Root string
}

// StartVersitygwProcess starts versitygw, a real S3 server written in Go that checks SigV4
// signatures, on a random loopback port with a posix backend in a temporary directory. It stands
// in for Garage's S3 API, which has no binary here. Buckets are the backend's top-level
// directories: see Bucket. Tests may pause or stop it.
//
// Install: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
func StartVersitygwProcess(t testing.TB, access, secret, region string) *Versitygw {
	t.Helper()
	bin := versitygwBinary(t)
	root := t.TempDir()
	port := FreePort(t)
	cmd := exec.Command(bin, "--access", access, "--secret", secret, "--region", region,
		"--port", "127.0.0.1:"+strconv.Itoa(port), "--quiet", "posix", "--nometa", root)
	// Its environment would otherwise leak root credentials from VGW_* or ROOT_* variables.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + root}
	v := &Versitygw{Process: start(t, cmd, port, syscall.SIGTERM), Root: root}
	waitFor(t, v.Process, "versitygw", 15*time.Second, func() error {
		c, err := net.DialTimeout("tcp", v.Addr(), time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	return v
}

// Bucket creates a bucket by making its directory in the posix backend, which is what versitygw reads
// as a bucket.
func (v *Versitygw) Bucket(t testing.TB, name string) {
	t.Helper()
	if err := os.Mkdir(filepath.Join(v.Root, name), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

func versitygwBinary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(filepath.SplitList(gopath)[0], "bin", "versitygw")
	if _, err := os.Stat(p); err != nil {
		Missing(t, "versitygw", "not on PATH or in GOPATH/bin (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
	}
	return p
}
