package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/testpeer"
)

func s3Env(t *testing.T, access, secret, region string) {
	t.Setenv("AWS_ACCESS_KEY_ID", access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_REGION", region)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_PROFILE", "")
}

// TestS3RoundTrip: an archive larger than one part goes up multipart to the real S3 server
// (versitygw) and comes back byte for byte, and verifies.
func TestS3RoundTrip(t *testing.T) {
	v := testpeer.StartVersitygwMultipart(t, "nixifykey", "nixifysecret", "garage")
	v.Bucket(t, "backups")
	s3Env(t, "nixifykey", "nixifysecret", "garage")
	ctx := context.Background()
	c, err := NewS3(ctx, "http://"+v.Addr(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	spool, _ := NewSpool(t.TempDir())
	defer spool.Close()
	// Random bytes do not compress: the archive is larger than one 8 MiB part.
	if _, err := spool.Add("postgres/dumpall.sql", 0o600, time.Now(), io.LimitReader(rand.Reader, 20<<20)); err != nil {
		t.Fatal(err)
	}
	var local bytes.Buffer
	if _, err := spool.WriteTo(&local, Manifest{Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	loc := S3Location{Bucket: "backups", Key: "nixify/2026-12-04.nxb"}
	if err := c.Upload(ctx, loc, bytes.NewReader(local.Bytes())); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(v.Root, "backups", "nixify", "2026-12-04.nxb")); err != nil || st.Size() != int64(local.Len()) {
		t.Fatalf("the object in the server's storage: %v %v, want %d bytes", st, err, local.Len())
	}
	var back bytes.Buffer
	if err := c.Download(ctx, loc, &back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Bytes(), local.Bytes()) {
		t.Fatal("the downloaded archive differs")
	}
	if _, err := Verify(&back); err != nil {
		t.Fatal(err)
	}
	// Listing the prefix reads only the manifest of each object.
	l, skipped, err := c.List(ctx, "backups", "nixify/")
	if err != nil || skipped != 0 || len(l) != 1 || l[0].Name != "s3://backups/nixify/2026-12-04.nxb" || l[0].Bytes != int64(local.Len()) {
		t.Fatalf("List: %+v, %d skipped, %v", l, skipped, err)
	}
	// Wrong credentials: the server's refusal, not a hang.
	s3Env(t, "nixifykey", "wrong", "garage")
	bad, _ := NewS3(ctx, "http://"+v.Addr(), 30*time.Second)
	if err := bad.Upload(ctx, S3Location{Bucket: "backups", Key: "x"}, bytes.NewReader([]byte("x"))); err == nil {
		t.Fatal("a wrong secret was accepted")
	}
}

// TestS3StallEnds: an endpoint that stops answering in the middle of an upload (the server
// paused) ends the upload with ErrStalled after the bound instead of hanging.
func TestS3StallEnds(t *testing.T) {
	v := testpeer.StartVersitygwMultipart(t, "nixifykey", "nixifysecret", "garage")
	v.Bucket(t, "backups")
	s3Env(t, "nixifykey", "nixifysecret", "garage")
	ctx := context.Background()
	c, err := NewS3(ctx, "http://"+v.Addr(), 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, 1<<20)
		for i := 0; ; i++ {
			if i == 10 {
				v.Pause(t) // the first part is on its way: the server goes silent
			}
			if _, err := pw.Write(buf); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { v.Resume(t) })
	err = c.Upload(ctx, S3Location{Bucket: "backups", Key: "stalled.nxb"}, pr)
	pr.CloseWithError(errors.New("test over"))
	if !errors.Is(err, ErrStalled) {
		t.Fatalf("upload to a paused server: %v, want ErrStalled", err)
	}
}
