package testpeer

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// StartVersitygwMultipart is StartVersitygwProcess with the posix backend's metadata on (extended
// attributes of the temporary directory): multipart uploads need it, since versitygw keeps each
// part's ETag there; with --nometa, CompleteMultipartUpload answers InvalidPart.
func StartVersitygwMultipart(t testing.TB, access, secret, region string) *Versitygw {
	t.Helper()
	bin := versitygwBinary(t)
	root := t.TempDir()
	port := FreePort(t)
	cmd := exec.Command(bin, "--access", access, "--secret", secret, "--region", region,
		"--port", "127.0.0.1:"+strconv.Itoa(port), "--quiet", "posix", root)
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
