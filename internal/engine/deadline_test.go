package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/internal/engine"
)

// hungEngine is a test double of an engine that answers the ping and then hangs on every other
// call (a daemon stuck on a lock: the real engine cannot be made to do this on demand). An image
// load is the exception when progress is set: it reads the archive, then reports progress every
// 50 ms for the given time before it answers.
func hungEngine(t *testing.T, progress time.Duration) engine.Engine {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.43")
		switch {
		case strings.HasSuffix(r.URL.Path, "/_ping"):
			io.WriteString(w, "OK")
			return
		case strings.HasSuffix(r.URL.Path, "/images/load") && progress > 0:
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			for end := time.Now().Add(progress); time.Now().Before(end); {
				fmt.Fprintf(w, `{"status":"Loading layer","id":"abc","progressDetail":{"current":1,"total":2}}`+"\n")
				w.(http.Flusher).Flush()
				time.Sleep(50 * time.Millisecond)
			}
			fmt.Fprintf(w, `{"stream":"Loaded image: slow:1\n"}`+"\n")
			return
		}
		<-r.Context().Done()
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	eng, err := engine.New(engine.Endpoint{Host: "tcp://" + ln.Addr().String(), Source: "test"},
		engine.WithTimeouts(engine.Timeouts{Ping: time.Second, Query: 300 * time.Millisecond, Change: 300 * time.Millisecond, Stall: 300 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	if _, err := eng.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	return eng
}

// TestEveryCallEndsWhenTheEngineHangs: past the ping, each call gives up after its own bound with
// an error that says the engine is unreachable (exit 4 at the top), not "failed".
func TestEveryCallEndsWhenTheEngineHangs(t *testing.T) {
	eng := hungEngine(t, 0)
	ctx := context.Background()
	calls := map[string]func() error{
		"inspect container": func() error { _, err := eng.ContainerInspect(ctx, "x"); return err },
		"list containers":   func() error { _, err := eng.ContainerList(ctx, "a", "b"); return err },
		"inspect image":     func() error { _, err := eng.ImageInspect(ctx, "x"); return err },
		"create container": func() error {
			_, err := eng.ContainerCreate(ctx, engine.ContainerSpec{Name: "x", Image: "y"})
			return err
		},
		"start":   func() error { return eng.ContainerStart(ctx, "x") },
		"stop":    func() error { return eng.ContainerStop(ctx, "x", time.Second) },
		"remove":  func() error { return eng.ContainerRemove(ctx, "x") },
		"volumes": func() error { _, err := eng.VolumeList(ctx, "a", "b"); return err },
		"logs":    func() error { return eng.ContainerLogs(ctx, "x", engine.LogOptions{}, io.Discard, io.Discard) },
		"followed logs": func() error {
			return eng.ContainerLogs(ctx, "x", engine.LogOptions{Follow: true}, io.Discard, io.Discard)
		},
		"exec": func() error { _, err := eng.ContainerExec(ctx, "x", []string{"true"}, ""); return err },
		"attached exec": func() error {
			_, err := eng.ContainerAttachExec(ctx, "x", engine.ExecSpec{Cmd: []string{"true"}}, engine.ExecStreams{Stdout: io.Discard, Stderr: io.Discard})
			return err
		},
		"read file": func() error { _, err := eng.ContainerReadFile(ctx, "x", "/etc/passwd", 10); return err },
		"load":      func() error { _, err := eng.ImageLoad(ctx, strings.NewReader("not read"), nil); return err },
		"save": func() error {
			rc, err := eng.ImageSave(ctx, "x")
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			return err
		},
	}
	for name, call := range calls {
		done := make(chan error, 1)
		go func() { done <- call() }()
		select {
		case err := <-done:
			if !errors.Is(err, engine.ErrUnavailable) || !strings.Contains(err.Error(), "no answer within") {
				t.Errorf("%s: %v, want engine unreachable (no answer within ...)", name, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s: still waiting after 30s", name)
		}
	}
}

// TestALoadThatMovesIsNotCutShort: the load's bound is on silence, not on its length: progress
// every 50 ms for two seconds (many times the 300 ms bound) completes.
func TestALoadThatMovesIsNotCutShort(t *testing.T) {
	eng := hungEngine(t, 2*time.Second)
	refs, err := eng.ImageLoad(context.Background(), strings.NewReader("archive"), nil)
	if err != nil || len(refs) != 1 || refs[0] != "slow:1" {
		t.Fatalf("load: %v %v", refs, err)
	}
}
