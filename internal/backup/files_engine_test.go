package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixify/nixify/e2e/testimage"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/testpeer"
)

// TestFilePartsThroughTheEngine is the file side of Garage and the secrets on the real engine
// (Garage itself cannot run here): files put into one container's volume are taken into an
// archive, verified and written into a fresh volume of another container, byte for byte, the
// secrets 0600; an empty volume counts as empty and a symlink is refused, not followed.
func TestFilePartsThroughTheEngine(t *testing.T) {
	eng := testpeer.Engine(t)
	ctx := context.Background()
	if !testimage.Exists("/bin/busybox") {
		testpeer.Missing(t, "busybox-static", "/bin/busybox is the test image's only program")
	}
	cp, err := Copier(eng)
	if err != nil {
		t.Fatal(err)
	}
	suffix := strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	path := filepath.Join(t.TempDir(), "sleeper.tar")
	tag := "nixify-backup-files:" + suffix
	id, err := testimage.Write(testimage.Sleeper(tag), path)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	_, err = eng.ImageLoad(ctx, f, nil)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.ImageRemove(ctx, tag); eng.ImageRemove(ctx, id) })
	newContainer := func(name string) string {
		name = "nixify-backup-files-" + name + "-" + suffix
		t.Cleanup(func() { eng.ContainerRemove(ctx, name); eng.VolumeRemove(ctx, name) })
		cid, err := eng.ContainerCreate(ctx, engine.ContainerSpec{Name: name, Image: id, Volumes: []engine.VolumeMount{{Volume: name, Target: "/data"}}})
		if err != nil {
			t.Fatal(err)
		}
		return cid
	}
	src, dst := newContainer("src"), newContainer("dst")

	block := bytes.Repeat([]byte{0, 1, 2, 0xff, '\n'}, 100000)
	files := map[string]struct {
		body []byte
		mode int64
	}{
		"garage/meta/db.lmdb/data.mdb": {[]byte("lmdb\x00pages"), 0o600},
		"garage/data/ab/cd/0123abcd":   {block, 0o644},
		"secrets/postgres-password":    {[]byte("p'a\"ss\\w\n"), 0o600},
	}
	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	for name, f := range files {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(f.body)), Mode: f.mode})
		tw.Write(f.body)
	}
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "garage/odd/link", Linkname: "/etc/passwd"})
	tw.Close()
	if err := cp.CopyTo(ctx, src, "/data", &in); err != nil {
		t.Fatal(err)
	}

	if n, _, err := Contents(ctx, cp, dst, "/data"); err != nil || n != 0 {
		t.Fatalf("a fresh volume: %d entries, %v; want 0", n, err)
	}
	if n, _, err := Contents(ctx, cp, src, "/data"); err != nil || n < 3 {
		t.Fatalf("the filled volume: %d entries, %v", n, err)
	}

	spool, err := NewSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer spool.Close()
	if _, err := AddTree(ctx, cp, src, "/data/garage", "garage", []string{"meta", "data"}, spool); err != nil {
		t.Fatal(err)
	}
	if _, err := AddTree(ctx, cp, src, "/data", "", []string{"secrets"}, spool); err != nil {
		t.Fatal(err)
	}
	if _, err := AddTree(ctx, cp, src, "/data/garage", "garage", []string{"odd"}, spool); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("a symlink: %v, want a refusal", err)
	}
	archive := filepath.Join(t.TempDir(), "files.nxb")
	out, _ := os.Create(archive)
	if _, err := spool.WriteTo(out, Manifest{Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	out.Close()
	var dump bytes.Buffer
	m, err := WriteFiles(ctx, cp, dst, "/data", archive, Owner{}, &dump)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Members) != 3 || dump.Len() != 0 {
		t.Fatalf("members %+v, dump %d bytes", m.Members, dump.Len())
	}
	for name, f := range files {
		rc, err := cp.CopyFrom(ctx, dst, "/data/"+name)
		if err != nil {
			t.Fatalf("%s after the restore: %v", name, err)
		}
		tr := tar.NewReader(rc)
		h, err := tr.Next()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(tr)
		rc.Close()
		if !bytes.Equal(got, f.body) {
			t.Errorf("%s: %d bytes differ from the %d put in", name, len(got), len(f.body))
		}
		if strings.HasPrefix(name, "secrets/") && h.Mode&0o777 != 0o600 {
			t.Errorf("%s: mode %o, want 0600", name, h.Mode&0o777)
		}
	}
}
