package backup

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

func sample(t *testing.T) []byte {
	t.Helper()
	s, err := NewSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	if _, err := s.Add("postgres/dumpall.sql", 0o600, now, strings.NewReader(strings.Repeat("insert into t values (1);\n", 5000))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add("redis/dump.rdb", 0o600, now, strings.NewReader("REDIS0011\xfe\x00binary")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := s.WriteTo(&buf, Manifest{Created: now, ImageID: "sha256:abc"}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	data := sample(t)
	got := map[string]string{}
	m, err := Read(bytes.NewReader(data), func(_ Manifest, mem Member, r io.Reader) error {
		b, err := io.ReadAll(r)
		got[mem.Name] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.Format != 1 || m.ImageID != "sha256:abc" || len(m.Members) != 2 {
		t.Fatalf("manifest: %+v", m)
	}
	if got["redis/dump.rdb"] != "REDIS0011\xfe\x00binary" || !strings.HasPrefix(got["postgres/dumpall.sql"], "insert into t") {
		t.Fatalf("contents: %q", got["redis/dump.rdb"])
	}
}

// Every flipped byte, wherever it falls (zstd header, block, checksum), is refused.
func TestFlippedByteRefused(t *testing.T) {
	data := sample(t)
	step := 1 // every byte
	for i := 0; i < len(data); i += step {
		bad := bytes.Clone(data)
		bad[i] ^= 0x01
		if _, err := Verify(bytes.NewReader(bad)); err == nil {
			t.Errorf("byte %d of %d flipped: accepted", i, len(data))
		} else if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsafe) && !errors.Is(err, ErrNewer) {
			t.Errorf("byte %d flipped: %v is none of the archive errors", i, err)
		}
	}
}

func TestTruncatedRefused(t *testing.T) {
	data := sample(t)
	for _, n := range []int{0, 10, len(data) / 2, len(data) - 1} {
		_, err := Verify(bytes.NewReader(data[:n]))
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("cut at %d: %v, want ErrCorrupt", n, err)
		}
	}
}

// craft writes an archive by hand: a manifest and members, as a hostile writer could.
func craft(t *testing.T, m Manifest, members map[string]string, order []string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	mj, _ := json.Marshal(m)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: ManifestName, Size: int64(len(mj)), Mode: 0o600})
	tw.Write(mj)
	for _, name := range order {
		body := members[name]
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(body)), Mode: 0o600})
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	return sealed(buf.Bytes())
}

// sealed appends the checksum trailer, as a hostile writer that knows the format would.
func sealed(b []byte) []byte {
	sum := sha256.Sum256(b)
	return append(b, trailer(sum[:])...)
}

func member(name, body string) Member {
	s, _ := NewSpool("")
	defer s.Close()
	m, _ := s.Add("redis/x", 0o600, time.Now(), strings.NewReader(body))
	m.Name = name
	return m
}

func TestHostileNamesRefused(t *testing.T) {
	for _, name := range []string{"../etc/passwd", "/etc/passwd", "redis/../../x", "garage/./a", "etc/passwd", "redis", "redis/a\nb", "redis\\..\\x"} {
		data := craft(t, Manifest{Format: 1, Members: []Member{member(name, "x")}}, map[string]string{name: "x"}, []string{name})
		called := false
		_, err := Read(bytes.NewReader(data), func(Manifest, Member, io.Reader) error { called = true; return nil })
		if !errors.Is(err, ErrUnsafe) {
			t.Errorf("%q: %v, want ErrUnsafe", name, err)
		}
		if called {
			t.Errorf("%q: handed to the caller", name)
		}
	}
	// A member the manifest does not list, though its name is fine.
	data := craft(t, Manifest{Format: 1}, map[string]string{"redis/dump.rdb": "x"}, []string{"redis/dump.rdb"})
	if _, err := Verify(bytes.NewReader(data)); !errors.Is(err, ErrUnsafe) {
		t.Errorf("unlisted member: %v", err)
	}
	// A symlink member is refused even with a listed name.
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	mj, _ := json.Marshal(Manifest{Format: 1, Members: []Member{member("garage/data/l", "")}})
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: ManifestName, Size: int64(len(mj))})
	tw.Write(mj)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "garage/data/l", Linkname: "/etc/shadow"})
	tw.Close()
	zw.Close()
	if _, err := Verify(bytes.NewReader(sealed(buf.Bytes()))); !errors.Is(err, ErrUnsafe) {
		t.Errorf("symlink member: %v", err)
	}
}

func TestNewerFormatRefused(t *testing.T) {
	data := craft(t, Manifest{Format: Format + 1}, nil, nil)
	if _, err := Verify(bytes.NewReader(data)); !errors.Is(err, ErrNewer) {
		t.Fatalf("%v, want ErrNewer", err)
	}
}

func TestMissingMemberRefused(t *testing.T) {
	m := member("redis/dump.rdb", "x")
	data := craft(t, Manifest{Format: 1, Members: []Member{m}}, nil, nil)
	if _, err := Verify(bytes.NewReader(data)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%v, want ErrCorrupt", err)
	}
}

// TestHostileBaseBackupRefused: the tars inside a physical backup are checked before anything is
// written, as the archive's own members are: a path leaving the data directory, or a symlink.
func TestHostileBaseBackupRefused(t *testing.T) {
	for _, h := range []tar.Header{
		{Name: "../../etc/cron.d/x", Typeflag: tar.TypeReg, Size: 1, Mode: 0o600},
		{Name: "/etc/passwd", Typeflag: tar.TypeReg, Size: 1, Mode: 0o600},
		{Name: "pg_tblspc/16384", Typeflag: tar.TypeSymlink, Linkname: "/etc", Mode: 0o777},
	} {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		tw.WriteHeader(&tar.Header{Name: "./pg_wal/", Typeflag: tar.TypeDir, Mode: 0o700})
		tw.WriteHeader(&h)
		if h.Size > 0 {
			tw.Write([]byte("x"))
		}
		tw.Close()
		data := craft(t, Manifest{Format: 2, Members: []Member{member(BaseTar, b.String())}}, map[string]string{BaseTar: b.String()}, []string{BaseTar})
		if _, err := Verify(bytes.NewReader(data)); !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), h.Name) {
			t.Errorf("%s (type %q): %v, want a refusal naming it", h.Name, h.Typeflag, err)
		}
	}
}
