package push

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/registryclient"
	"github.com/nixify/nixify/internal/testpeer"
)

// resettingProxy stands between the push and a real registry, as a broken middlebox would: it
// passes every request on, except that it resets the connection of every upload of blob bytes
// (PATCH or PUT to .../blobs/uploads/...), after reading a little of the body. A test double of
// the network fault only: the registry behind it is Debian's docker-registry.
func resettingProxy(t *testing.T, registry string) (addr string, resets *atomic.Int64) {
	t.Helper()
	resets = &atomic.Int64{}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: registry})
	rp.ErrorLog = log.New(io.Discard, "", 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			resets.Add(1)
			buf := make([]byte, 512)
			r.Body.Read(buf)
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.(*net.TCPConn).SetLinger(0) // close with RST: "connection reset by peer"
				conn.Close()
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), resets
}

// TestPersistentUploadResetsEndInOneLine: every upload of blob bytes is reset. The push gives up
// after its tries and says, in one line with exit 4, which blob of which architecture failed,
// against which registry, after how many tries, and never the upload URL (it carries the
// registry's upload state token).
func TestPersistentUploadResetsEndInOneLine(t *testing.T) {
	reg := testpeer.StartRegistry(t, "", "")
	proxy, resets := resettingProxy(t, reg.Addr())
	dir, _, cfg := fixture(t, "", "x86_64")
	cfg2 := func() (*config.Loaded, error) {
		l, _ := cfg()
		l.Config.Repo = proxy + "/o/n"
		return l, nil
	}
	_, _, err := run(t, opt(cfg2, dir, func(o *Options) {
		o.Client = []registryclient.Option{registryclient.WithBackoff(remote.Backoff{Duration: 10 * time.Millisecond, Factor: 1, Steps: 3})}
	}))
	if resets.Load() == 0 {
		t.Fatalf("no upload reached the proxy: %v", err)
	}
	msg := errText(err)
	if err == nil || cli.Code(err) != cli.ExitUnavailable || strings.Contains(msg, "\n") || cli.Hint(err) == "" {
		t.Fatalf("err = %q (exit %d, hint %q)", msg, cli.Code(err), cli.Hint(err))
	}
	for _, want := range []string{"x86_64", proxy, "sha256:", "3 tries", "reset"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q does not say %q", msg, want)
		}
	}
	for _, leak := range []string{"_state", "/blobs/uploads/", "http://"} {
		if strings.Contains(msg, leak) {
			t.Errorf("%q holds the upload URL (%q)", msg, leak)
		}
	}
	t.Log(msg)
	if len(msg) > 200 {
		t.Errorf("%d characters: %q", len(msg), msg)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// stallingProxy passes every request on to a real registry, except that it answers a manifest
// read with its headers and the first bytes of a body, then never another byte: a registry (or a
// middlebox) that hangs mid-answer.
func stallingProxy(t *testing.T, registry string) string {
	t.Helper()
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: registry})
	rp.ErrorLog = log.New(io.Discard, "", 0)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") {
			w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
			w.Header().Set("Content-Length", "4096")
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, `{"schemaVersion":2,`)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-done:
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return strings.TrimPrefix(srv.URL, "http://")
}

// TestPushToARegistryThatStallsMidAnswer: a registry that sends the headers of an answer and then
// nothing more is given up on after the request timeout, with exit 4, like one that never
// answers; it used to hold the push until --timeout (30 minutes by default).
func TestPushToARegistryThatStallsMidAnswer(t *testing.T) {
	reg := testpeer.StartRegistry(t, "", "")
	proxy := stallingProxy(t, reg.Addr())
	dir, _, cfg := fixture(t, "", "x86_64")
	cfg2 := func() (*config.Loaded, error) {
		l, _ := cfg()
		l.Config.Repo = proxy + "/o/n"
		return l, nil
	}
	_, _, err := run(t, opt(cfg2, dir, func(o *Options) { o.Timeout = time.Minute }))
	if err == nil || cli.Code(err) != cli.ExitUnavailable || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "did not answer within 300ms") {
		t.Fatalf("err = %v (exit %d)", err, cli.Code(err))
	}
}

// TestInterruptMidUpload: Ctrl-C while a blob is on its way (the proxy holds every upload of blob
// bytes in front of a real registry) ends the push at once with exit 130 and no tag moved.
func TestInterruptMidUpload(t *testing.T) {
	reg := testpeer.StartRegistry(t, "", "")
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: reg.Addr()})
	rp.ErrorLog = log.New(io.Discard, "", 0)
	uploading := make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			select {
			case uploading <- struct{}{}:
			default:
			}
			io.Copy(io.Discard, r.Body) // (the server notices a client gone only once the body is read)
			<-r.Context().Done()        // no answer until the client goes away
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer srv.Close()
	proxy := strings.TrimPrefix(srv.URL, "http://")
	dir, _, cfg := fixture(t, "", "x86_64")
	cfg2 := func() (*config.Loaded, error) {
		l, _ := cfg()
		l.Config.Repo = proxy + "/o/n"
		return l, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-uploading
		cancel() // what Ctrl-C does to the command's context
	}()
	err := pushRun(ctx, opt(cfg2, dir, func(o *Options) { o.StallTimeout = time.Hour }))
	if cli.Code(err) != cli.ExitInterrupted {
		t.Fatalf("err = %v (exit %d)", err, cli.Code(err))
	}
	tags, _ := remote.List(mustRepo(t, reg.Addr()+"/o/n"))
	if len(tags) != 0 {
		t.Errorf("tags moved by an interrupted push: %q", tags)
	}
}

// TestCredentialHelperThatNeverAnswers: the docker config names a credential helper for the
// registry, and the helper hangs. The push gives up after the request timeout with one line
// naming the helper and exit 4; it used to wait forever, before any deadline applied.
func TestCredentialHelperThatNeverAnswers(t *testing.T) {
	reg := testpeer.StartRegistry(t, "", "")
	bin := t.TempDir()
	helper := filepath.Join(bin, "docker-credential-nixifyhang")
	// A helper of the test's own making: it answers nothing for 30 s (then exits, so no test leaves it behind for long).
	if err := os.WriteFile(helper, []byte("#!/bin/sh\nexec sleep 30 </dev/null >/dev/null 2>&1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := t.TempDir()
	if err := os.WriteFile(filepath.Join(conf, "config.json"), []byte(`{"credHelpers":{"`+reg.Addr()+`":"nixifyhang"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", conf)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	dir, _, cfg := fixture(t, "", "x86_64")
	cfg2 := func() (*config.Loaded, error) {
		l, _ := cfg()
		l.Config.Repo = reg.Addr() + "/o/n"
		return l, nil
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := run(t, opt(cfg2, dir, nil))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || cli.Code(err) != cli.ExitUnavailable || !strings.Contains(err.Error(), "nixifyhang") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("err = %v (exit %d)", err, cli.Code(err))
		}
	case <-time.After(time.Minute):
		t.Fatal("push still waits for the credential helper after a minute")
	}
}
