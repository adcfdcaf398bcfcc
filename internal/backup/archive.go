// Package backup is the archive `nixify backup` writes and `nixify restore` reads: one tar,
// compressed with zstd, whose first member is a manifest (format, image, the services' versions,
// and for every other member its size, SHA-256 and the time it was taken), followed by the parts:
//
//	postgres/dumpall.sql   pg_dumpall's output (a logical dump)
//	redis/dump.rdb         the RDB file a BGSAVE finished
//	garage/meta/..., garage/data/...   Garage's metadata and data directories
//	secrets/...            /data/secrets, only when asked for
//
// The parts are spooled to temporary files first (so the manifest, written first, knows their
// checksums, and memory stays flat whatever their size). A reader checks every name, size and
// checksum against the manifest; Verify reads the whole archive and writes nothing, so a restore
// refuses a damaged or hostile archive before it touches a volume.
package backup

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
)

// Format is the newest archive format this nixify reads. It writes 1 unless the archive holds a
// physical PostgreSQL backup (2), which a nixify that reads only 1 could not restore.
const Format = 2

// ManifestName is the archive's first member.
const ManifestName = "manifest.json"

// maxManifest bounds the manifest a reader accepts (it is read into memory).
const maxManifest = 16 << 20

// Manifest describes an archive.
type Manifest struct {
	Format    int       `json:"format"`
	Nixify    string    `json:"nixify"`
	Created   time.Time `json:"created"`
	Container string    `json:"container"`
	Image     string    `json:"image"`   // the image's name, when it has one
	ImageID   string    `json:"imageId"` // sha256:... (the config digest)
	Services  []Service `json:"services"`
	Secrets   bool      `json:"secrets"`
	Members   []Member  `json:"members"`
}

// Service is one service's part of the backup.
type Service struct {
	Name    string    `json:"name"`           // postgres, redis, garage, secrets
	Version string    `json:"version"`        // the server's own version string, when known
	Method  string    `json:"method"`         // pg_basebackup, pg_dumpall, bgsave, files
	Kind    string    `json:"kind,omitempty"` // physical, logical, snapshot, files (absent in format 1)
	TakenAt time.Time `json:"takenAt"`        // when the part's point in time was taken
	Bytes   int64     `json:"bytes"`
}

// Member is one file of the archive after the manifest.
type Member struct {
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	SHA256  string    `json:"sha256"`
	Mode    int64     `json:"mode"`
	TakenAt time.Time `json:"takenAt"`
}

// Errors a reader returns (wrapped, with the member and values in the message).
var (
	ErrCorrupt = errors.New("damaged archive")
	ErrUnsafe  = errors.New("refused archive")
	ErrNewer   = errors.New("archive from a newer nixify")
)

// Tops are the first path elements a member may have.
var Tops = []string{"postgres", "redis", "garage", "secrets"}

// CheckName refuses a member name that could leave the directory it is restored into (absolute,
// "..", not clean), that is not UTF-8 or holds control characters, or that is outside Tops.
func CheckName(name string) error {
	bad := func(why string) error { return fmt.Errorf("%w: member %q: %s", ErrUnsafe, name, why) }
	switch {
	case name == "" || !utf8.ValidString(name):
		return bad("not a UTF-8 name")
	case strings.HasPrefix(name, "/"):
		return bad("absolute path")
	case strings.ContainsAny(name, "\\\x00") || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return bad("backslash or control character in the name")
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return bad("\"..\" in the path")
		}
	}
	if path.Clean(name) != name {
		return bad("not a clean path")
	}
	top, _, _ := strings.Cut(name, "/")
	for _, t := range Tops {
		if top == t && name != t {
			return nil
		}
	}
	return bad("outside " + strings.Join(Tops, "/, ") + "/")
}

// Spool holds the parts on disk until the archive is written.
type Spool struct {
	dir     string
	members []Member
	paths   []string
	// Progress, when set, is told the bytes spooled so far, as they arrive.
	Progress func(total int64)
	total    int64
}

type progressWriter struct{ s *Spool }

func (p progressWriter) Write(b []byte) (int, error) {
	p.s.total += int64(len(b))
	if p.s.Progress != nil {
		p.s.Progress(p.s.total)
	}
	return len(b), nil
}

// NewSpool makes a private temporary directory (0700) under dir ("" for the system's).
func NewSpool(dir string) (*Spool, error) {
	d, err := os.MkdirTemp(dir, "nixify-backup-")
	if err != nil {
		return nil, err
	}
	return &Spool{dir: d}, nil
}

// Close removes the spooled files.
func (s *Spool) Close() error { return os.RemoveAll(s.dir) }

// Members are the spooled members, in order.
func (s *Spool) Members() []Member { return s.members }

// Add copies r into the spool as member name and returns the member with its size and checksum.
func (s *Spool) Add(name string, mode int64, takenAt time.Time, r io.Reader) (Member, error) {
	if err := CheckName(name); err != nil {
		return Member{}, err
	}
	f, err := os.CreateTemp(s.dir, "part-")
	if err != nil {
		return Member{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h, progressWriter{s}), r)
	if err != nil {
		return Member{}, err
	}
	if err := f.Close(); err != nil {
		return Member{}, err
	}
	m := Member{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Mode: mode & 0o777, TakenAt: takenAt.UTC()}
	s.members = append(s.members, m)
	s.paths = append(s.paths, f.Name())
	return m, nil
}

// WriteTo writes the archive (m's Members are the spool's) to w: zstd over a tar, the manifest
// first. It returns the compressed bytes written.
func (s *Spool) WriteTo(w io.Writer, m Manifest) (int64, error) {
	m.Format = 1
	for _, sv := range m.Services {
		if sv.Physical() {
			m.Format = 2
		}
	}
	m.Members = s.members
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return 0, err
	}
	cw := &countWriter{w: w}
	zw, err := zstd.NewWriter(cw, zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		return 0, err
	}
	tw := tar.NewWriter(zw)
	hdr := func(name string, size, mode int64, t time.Time) *tar.Header {
		return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: mode, ModTime: t, Format: tar.FormatPAX}
	}
	if err := tw.WriteHeader(hdr(ManifestName, int64(len(mj)), 0o600, m.Created)); err != nil {
		return cw.n, err
	}
	if _, err := tw.Write(mj); err != nil {
		return cw.n, err
	}
	for i, mem := range s.members {
		if err := tw.WriteHeader(hdr(mem.Name, mem.Size, 0o600, mem.TakenAt)); err != nil {
			return cw.n, err
		}
		f, err := os.Open(s.paths[i])
		if err != nil {
			return cw.n, err
		}
		_, err = io.Copy(tw, f)
		f.Close()
		if err != nil {
			return cw.n, err
		}
	}
	if err := tw.Close(); err != nil {
		return cw.n, err
	}
	if err := zw.Close(); err != nil {
		return cw.n, err
	}
	// The trailer: a zstd skippable frame (standard decoders pass over it) holding the SHA-256 of
	// every compressed byte before it, so that a flipped byte is found even where it does not
	// change what decompresses (an unused bit of an entropy table).
	_, err = cw.Write(trailer(cw.sum.Sum(nil)))
	return cw.n, err
}

// trailerLen is the skippable frame's size: magic, length, SHA-256.
const trailerLen = 8 + sha256.Size

var trailerMagic = []byte{0x5e, 0x2a, 0x4d, 0x18} // 0x184D2A5E little-endian

func trailer(sum []byte) []byte {
	b := append(bytes.Clone(trailerMagic), byte(len(sum)), 0, 0, 0)
	return append(b, sum...)
}

type countWriter struct {
	w   io.Writer
	n   int64
	sum hash.Hash // of what was written before the trailer
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.sum == nil {
		c.sum = sha256.New()
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.sum.Write(p[:n])
	return n, err
}

// trailerReader passes on all but the last trailerLen bytes of r, hashing them, and keeps those
// last bytes (the trailer) for the check at the end.
type trailerReader struct {
	r    io.Reader
	buf  []byte
	sum  hash.Hash
	eof  bool
	tmp  []byte
	read int64
}

func newTrailerReader(r io.Reader) *trailerReader {
	return &trailerReader{r: r, sum: sha256.New(), tmp: make([]byte, 64<<10)}
}

func (t *trailerReader) Read(p []byte) (int, error) {
	for len(t.buf) <= trailerLen && !t.eof {
		n, err := t.r.Read(t.tmp)
		t.buf = append(t.buf, t.tmp[:n]...)
		if err == io.EOF {
			t.eof = true
		} else if err != nil {
			return 0, err
		}
	}
	avail := len(t.buf) - trailerLen
	if avail <= 0 {
		return 0, io.EOF
	}
	n := copy(p, t.buf[:avail])
	t.sum.Write(p[:n])
	t.buf = t.buf[n:]
	t.read += int64(n)
	return n, nil
}

// check reads r to its end and compares the trailer with the hash of what came before.
func (t *trailerReader) check() error {
	if _, err := io.Copy(io.Discard, t); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, readErr(err))
	}
	if len(t.buf) != trailerLen || !bytes.HasPrefix(t.buf, trailerMagic) {
		return fmt.Errorf("%w: no checksum trailer at the end: the archive is truncated", ErrCorrupt)
	}
	if !bytes.Equal(t.buf, trailer(t.sum.Sum(nil))) {
		return fmt.Errorf("%w: the archive's SHA-256 (%d bytes) does not match its trailer", ErrCorrupt, t.read)
	}
	return nil
}

// Verify reads the whole archive and checks it against its manifest without writing anything.
// The tars inside (a physical PostgreSQL backup) are read too.
func Verify(r io.Reader) (Manifest, error) {
	return Read(r, func(_ Manifest, mem Member, r io.Reader) error {
		if _, ok := nested(mem.Name); ok {
			return checkNested(mem.Name, r)
		}
		return nil
	})
}

// Read reads the archive, calling fn (when not nil) with each member after the manifest and a
// reader of its content; fn need not read all of it. Every name is checked before fn sees it,
// every size and checksum as it is read: a mismatch is an error after fn returns, so a caller
// that must not act on bad data reads the archive twice (Verify, then Read).
func Read(r io.Reader, fn func(Manifest, Member, io.Reader) error) (Manifest, error) {
	raw := newTrailerReader(r)
	zr, err := zstd.NewReader(raw, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30), zstd.WithDecoderMaxWindow(64<<20))
	if err != nil {
		return Manifest{}, err
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	corrupt := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, a...))
	}
	h, err := tr.Next()
	if err != nil {
		return Manifest{}, corrupt("no manifest: %v", readErr(err))
	}
	if h.Name != ManifestName || h.Typeflag != tar.TypeReg {
		return Manifest{}, corrupt("the first member is %q, not %s: not a nixify backup", h.Name, ManifestName)
	}
	if h.Size > maxManifest {
		return Manifest{}, corrupt("manifest of %d bytes, more than %d", h.Size, maxManifest)
	}
	mj, err := io.ReadAll(tr)
	if err != nil {
		return Manifest{}, corrupt("manifest: %v", readErr(err))
	}
	var m Manifest
	if err := json.Unmarshal(mj, &m); err != nil {
		return Manifest{}, corrupt("manifest: %v", err)
	}
	if m.Format > Format {
		return m, fmt.Errorf("%w: format %d, this nixify reads up to %d: restore with a newer nixify", ErrNewer, m.Format, Format)
	}
	if m.Format < 1 {
		return m, corrupt("manifest has no format number")
	}
	want := make(map[string]Member, len(m.Members))
	for _, mem := range m.Members {
		if err := CheckName(mem.Name); err != nil {
			return m, err
		}
		if _, dup := want[mem.Name]; dup {
			return m, fmt.Errorf("%w: member %q listed twice", ErrUnsafe, mem.Name)
		}
		if mem.Size < 0 || len(mem.SHA256) != 64 {
			return m, corrupt("member %q: size or checksum missing in the manifest", mem.Name)
		}
		want[mem.Name] = mem
	}
	seen := make(map[string]bool, len(want))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return m, corrupt("%v", readErr(err))
		}
		if err := CheckName(h.Name); err != nil {
			return m, err
		}
		mem, ok := want[h.Name]
		switch {
		case !ok:
			return m, fmt.Errorf("%w: member %q is not in the manifest", ErrUnsafe, h.Name)
		case seen[h.Name]:
			return m, fmt.Errorf("%w: member %q appears twice", ErrUnsafe, h.Name)
		case h.Typeflag != tar.TypeReg:
			return m, fmt.Errorf("%w: member %q is not a regular file (type %q)", ErrUnsafe, h.Name, h.Typeflag)
		case h.Size != mem.Size:
			return m, corrupt("member %q is %d bytes, the manifest says %d", h.Name, h.Size, mem.Size)
		}
		seen[h.Name] = true
		hash := sha256.New()
		body := io.TeeReader(tr, hash)
		if fn != nil {
			if err := fn(m, mem, body); err != nil {
				return m, err
			}
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return m, corrupt("member %q: %v", h.Name, readErr(err))
		}
		if got := hex.EncodeToString(hash.Sum(nil)); got != mem.SHA256 {
			return m, corrupt("member %q: SHA-256 %s, the manifest says %s", h.Name, got, mem.SHA256)
		}
	}
	for _, mem := range m.Members {
		if !seen[mem.Name] {
			return m, corrupt("member %q is missing (truncated?)", mem.Name)
		}
	}
	// Whatever follows the tar's end inside the zstd stream must still decode.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return m, corrupt("after the last member: %v", readErr(err))
	}
	return m, raw.check()
}

// readErr names an early end as truncation.
func readErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("unexpected end: the archive is truncated")
	}
	return err
}

// VerifyFile is Verify for a file, which first reads the manifest alone: an archive of a newer
// format (whose layout this nixify may not know) is named as such rather than as damaged.
func VerifyFile(path string) (Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return Manifest{}, err
	}
	defer f.Close()
	if m, err := ReadManifest(f); err == nil && m.Format > Format {
		return m, fmt.Errorf("%w: format %d, this nixify reads up to %d: restore with a newer nixify", ErrNewer, m.Format, Format)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return Manifest{}, err
	}
	return Verify(f)
}
