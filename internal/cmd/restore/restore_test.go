package restore

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/nixify/nixify/internal/backup"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/iostreams"
)

// hostile writes an archive whose one member is name, with a correct manifest entry, checksum
// and trailer: what a writer who knows the format could send.
func hostile(t *testing.T, name string) string {
	t.Helper()
	body := []byte("pwned\n")
	sum := sha256.Sum256(body)
	m := backup.Manifest{Format: 1, Members: []backup.Member{{Name: name, Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}}}
	mj, _ := json.Marshal(m)
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: backup.ManifestName, Size: int64(len(mj)), Mode: 0o600})
	tw.Write(mj)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(body)), Mode: 0o600})
	tw.Write(body)
	tw.Close()
	zw.Close()
	whole := sha256.Sum256(buf.Bytes())
	buf.Write([]byte{0x5e, 0x2a, 0x4d, 0x18, 32, 0, 0, 0})
	buf.Write(whole[:])
	p := filepath.Join(t.TempDir(), "hostile.nxb")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// restore runs the command with an engine that cannot be reached: a refusal that comes before
// anything touches the engine is exit 2, anything later would be exit 4.
func restore(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ios, _, _, errOut := iostreams.Test()
	f := &cli.Factory{IO: ios, WorkDir: t.TempDir(), Getenv: func(k string) string {
		if k == "DOCKER_HOST" {
			return "unix://" + filepath.Join(t.TempDir(), "no-engine.sock")
		}
		return ""
	}}
	cmd := NewCmdRestore(f, nil)
	cmd.SetArgs(args)
	cmd.SetOut(ios.Out)
	cmd.SetErr(ios.ErrOut)
	err := cmd.Execute()
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return cli.Code(err), errOut.String()
}

func TestHostileArchiveRefusedBeforeTheEngine(t *testing.T) {
	for _, name := range []string{"../../etc/cron.d/x", "/etc/passwd", "secrets/../../x", "redis/../../../root/.ssh/authorized_keys"} {
		code, msg := restore(t, hostile(t, name))
		if code != cli.ExitUsage || !strings.Contains(msg, "refused archive") {
			t.Errorf("%q: exit %d, %q; want exit 2 and the refusal", name, code, msg)
		}
	}
	// The same archive with a harmless name gets past verification, to the (absent) engine.
	if code, msg := restore(t, hostile(t, "secrets/x")); code != cli.ExitUnavailable {
		t.Errorf("a sound archive: exit %d, %q; want 4 (the engine is out of reach)", code, msg)
	}
}

func TestMissingAndEmptyFiles(t *testing.T) {
	if code, msg := restore(t, filepath.Join(t.TempDir(), "absent.nxb")); code != cli.ExitUsage || !strings.Contains(msg, "no such file") {
		t.Errorf("absent file: exit %d, %q", code, msg)
	}
	empty := filepath.Join(t.TempDir(), "empty.nxb")
	os.WriteFile(empty, nil, 0o600)
	if code, msg := restore(t, empty); code != cli.ExitUsage || !strings.Contains(msg, "damaged archive") {
		t.Errorf("empty file: exit %d, %q", code, msg)
	}
}

// A truncated archive and one from a newer format are exit 2, with what is wrong, before the
// engine is asked anything.
func TestTruncatedAndNewerRefused(t *testing.T) {
	dir := t.TempDir()
	s, _ := backup.NewSpool(dir)
	defer s.Close()
	s.Add("redis/dump.rdb", 0o600, time.Now(), strings.NewReader(strings.Repeat("REDIS", 10000)))
	var buf bytes.Buffer
	s.WriteTo(&buf, backup.Manifest{Created: time.Now()})
	cut := filepath.Join(dir, "cut.nxb")
	os.WriteFile(cut, buf.Bytes()[:buf.Len()-100], 0o600)
	if code, msg := restore(t, cut); code != cli.ExitUsage || !strings.Contains(msg, "damaged archive") {
		t.Errorf("truncated: exit %d, %q", code, msg)
	}
	mj, _ := json.Marshal(backup.Manifest{Format: backup.Format + 1})
	var nb bytes.Buffer
	zw, _ := zstd.NewWriter(&nb)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: backup.ManifestName, Size: int64(len(mj)), Mode: 0o600})
	tw.Write(mj)
	tw.Close()
	zw.Close()
	newer := filepath.Join(dir, "newer.nxb")
	os.WriteFile(newer, nb.Bytes(), 0o600)
	if code, msg := restore(t, newer); code != cli.ExitUsage || !strings.Contains(msg, "newer nixify") {
		t.Errorf("newer format: exit %d, %q", code, msg)
	}
}
