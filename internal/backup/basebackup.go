package backup

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
)

// What each part of an archive is (Service.Kind): a physical PostgreSQL base backup restores only
// into the major version that took it; a logical dump into any.
const (
	KindPhysical = "physical"
	KindLogical  = "logical"
	KindSnapshot = "snapshot"
	KindFiles    = "files"

	MethodBaseBackup = "pg_basebackup"
	MethodDumpall    = "pg_dumpall"
)

// The members of a physical PostgreSQL backup: pg_basebackup's tar format, the data directory
// and, apart, the WAL streamed while it was taken (what makes it consistent on its own).
const (
	BaseTar = "postgres/base.tar"
	WALTar  = "postgres/pg_wal.tar"
)

// nested says where a member that is itself a tar unpacks, relative to the data root.
func nested(name string) (dir string, ok bool) {
	switch name {
	case BaseTar:
		return "postgres", true
	case WALTar:
		return "postgres/pg_wal", true
	}
	return "", false
}

// takeBaseBackup runs pg_basebackup inside the container, as the postgres user over the local
// socket (a replication connection, which the init's pg_hba.conf lets in by peer), in tar format
// with the WAL streamed over a second connection and a temporary replication slot keeping that
// WAL until it is sent: the backup needs nothing else to be consistent. It writes into a private
// directory of the container's /tmp (not the volume), which is copied into the spool and removed.
// A pg_basebackup silent (no progress line) for src.Wait is ended.
func takeBaseBackup(ctx context.Context, src Source, cp engine.Copier, in container.Inside, spool *Spool) (Service, error) {
	id := src.Container.ID
	ver, err := pgServerVersion(ctx, src, in)
	if err != nil {
		return Service{}, err
	}
	rnd := make([]byte, 8)
	rand.Read(rnd)
	dir := "/tmp/nixify-basebackup-" + hex.EncodeToString(rnd)
	defer run(context.WithoutCancel(ctx), src.Engine, id, engine.ExecSpec{Cmd: []string{"rm", "-rf", dir}, User: "postgres"}, nil, io.Discard)

	wctx, w := watch(ctx, src.Wait)
	defer w.stop()
	progress := &baseProgress{kick: w.kick, step: src.Progress}
	spec := pgExec(in, "pg_basebackup", "-D", dir, "-F", "tar", "-X", "stream", "-c", "fast", "-P", "--no-manifest", "--no-sync")
	code, err := src.Engine.ContainerAttachExec(wctx, id, spec, engine.ExecStreams{Stdout: io.Discard, Stderr: progress})
	switch {
	case w.isStalled():
		return Service{}, fmt.Errorf("pg_basebackup reported no progress for %s (a checkpoint or the WAL waiting? see `nixify logs --service postgres`): %w", src.Wait, ErrStalled)
	case err != nil:
		return Service{}, err
	case code != 0:
		return Service{}, fmt.Errorf("pg_basebackup exited with %d: %s", code, progress.firstError())
	}
	taken := time.Now() // the backup is consistent as of its end
	rc, err := cp.CopyFrom(ctx, id, dir)
	if err != nil {
		return Service{}, err
	}
	defer rc.Close()
	files := map[string]bool{}
	tr := tar.NewReader(rc)
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Service{}, fmt.Errorf("copy the base backup out: %w", err)
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		name := "postgres/" + path.Base(h.Name)
		if _, ok := nested(name); !ok || h.Typeflag != tar.TypeReg {
			return Service{}, fmt.Errorf("pg_basebackup wrote %s, which nixify does not know (a tablespace?)", h.Name)
		}
		m, err := spool.Add(name, 0o600, taken, tr)
		if err != nil {
			return Service{}, err
		}
		files[name], total = true, total+m.Size
	}
	if !files[BaseTar] || !files[WALTar] {
		return Service{}, errors.New("pg_basebackup wrote no base.tar and pg_wal.tar")
	}
	return Service{Name: "postgres", Version: ver, Method: MethodBaseBackup, Kind: KindPhysical, TakenAt: taken.UTC(), Bytes: total}, nil
}

// baseProgress reads pg_basebackup -P's stderr: every line is progress (and kicks the stall
// watch); "NNN/MMM kB (P%)" is reported to step; lines with "error" are kept for the message.
type baseProgress struct {
	kick    func()
	step    func(done, total int64)
	partial []byte
	errs    []string
}

var basePct = regexp.MustCompile(`(\d+)/(\d+) kB`)

func (p *baseProgress) Write(b []byte) (int, error) {
	p.kick()
	p.partial = append(p.partial, b...)
	for {
		i := strings.IndexAny(string(p.partial), "\r\n")
		if i < 0 {
			break
		}
		p.line(string(p.partial[:i]))
		p.partial = p.partial[i+1:]
	}
	if len(p.partial) > 64<<10 {
		p.partial = p.partial[:0]
	}
	return len(b), nil
}

func (p *baseProgress) line(l string) {
	if m := basePct.FindStringSubmatch(l); m != nil && p.step != nil {
		done, _ := strconv.ParseInt(m[1], 10, 64)
		total, _ := strconv.ParseInt(m[2], 10, 64)
		p.step(done<<10, total<<10)
	}
	if strings.Contains(l, "error") || strings.Contains(l, "FATAL") {
		p.errs = append(p.errs, strings.TrimSpace(l))
	}
}

func (p *baseProgress) firstError() string {
	if len(p.partial) > 0 {
		p.line(string(p.partial))
		p.partial = nil
	}
	if len(p.errs) == 0 {
		return "(no message)"
	}
	return p.errs[0]
}

// checkNested reads a member that is itself a tar (pg_basebackup's) and refuses anything in it
// that could leave its directory or that restore would not lay down as a plain file: only
// relative, clean names of directories and regular files.
func checkNested(name string, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: member %q: %v", ErrCorrupt, name, readErr(err))
		}
		if err := checkInner(name, h); err != nil {
			return err
		}
	}
}

// innerName is an entry's name as restore lays it down: pg_basebackup writes some as "./pg_wal/...".
func innerName(h *tar.Header) string {
	return strings.TrimPrefix(strings.TrimSuffix(h.Name, "/"), "./")
}

func checkInner(member string, h *tar.Header) error {
	n := innerName(h)
	bad := func(why string) error { return fmt.Errorf("%w: %s holds %q: %s", ErrUnsafe, member, h.Name, why) }
	switch {
	case n == "" || strings.HasPrefix(n, "/") || path.Clean(n) != n || n == ".." || strings.HasPrefix(n, "../"):
		return bad("a path that leaves its directory")
	case strings.ContainsFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }):
		return bad("a control character or backslash in the name")
	case h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeDir:
		return bad(fmt.Sprintf("not a regular file or directory (type %q; tablespaces are not restored)", h.Typeflag))
	}
	return nil
}

// Owner is the user and group a restored service's files get.
type Owner struct{ UID, GID int }

// putNested copies the tar r into tw under dir, every entry owned by own: directories 0700,
// files 0600, as PostgreSQL wants its data directory.
func putNested(tw *tar.Writer, member, dir string, own Owner, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", member, err)
		}
		if err := checkInner(member, h); err != nil {
			return err
		}
		out := &tar.Header{Name: dir + "/" + innerName(h), Uid: own.UID, Gid: own.GID, ModTime: h.ModTime, Typeflag: h.Typeflag}
		if h.Typeflag == tar.TypeDir {
			out.Name += "/"
			out.Mode = 0o700
		} else {
			out.Mode, out.Size = 0o600, h.Size
		}
		if err := tw.WriteHeader(out); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.Copy(tw, tr); err != nil {
				return err
			}
		}
	}
}

// PostgresPart is the archive's PostgreSQL part, if it has one.
func (m Manifest) PostgresPart() (Service, bool) {
	for _, s := range m.Services {
		if s.Name == "postgres" {
			return s, true
		}
	}
	return Service{}, false
}

// Physical says whether the part is a physical backup (an archive written before kinds were
// recorded holds only pg_dumpall's logical dump).
func (s Service) Physical() bool { return s.Kind == KindPhysical || s.Method == MethodBaseBackup }

// ImagePostgres asks an image which PostgreSQL it runs: a helper container of the image whose
// entrypoint is `postgres --version` (the server binary on the image's PATH), removed after.
func ImagePostgres(ctx context.Context, eng engine.Engine, imageID string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rnd := make([]byte, 4)
	rand.Read(rnd)
	id, err := eng.ContainerCreate(ctx, engine.ContainerSpec{Name: "nixify-pg-version-" + hex.EncodeToString(rnd), Image: imageID,
		Labels: map[string]string{container.LabelManaged: "true"}, Entrypoint: []string{"postgres", "--version"}})
	if err != nil {
		return "", err
	}
	defer eng.ContainerRemove(context.WithoutCancel(ctx), id)
	exited := eng.ContainerWait(ctx, id)
	if err := eng.ContainerStart(ctx, id); err != nil {
		return "", fmt.Errorf("run postgres --version in the image: %w", err)
	}
	var x engine.Exit
	select {
	case x = <-exited:
	case <-ctx.Done():
		return "", fmt.Errorf("postgres --version in the image: %w", ctx.Err())
	}
	var out syncBuffer
	if err := eng.ContainerLogs(ctx, id, engine.LogOptions{Tail: "all"}, &out, &out); err != nil {
		return "", err
	}
	_, after, ok := strings.Cut(out.String(), "(PostgreSQL) ")
	if f := strings.Fields(after); ok && x.Code == 0 && len(f) > 0 {
		return f[0], nil
	}
	return "", fmt.Errorf("postgres --version in the image exited with %d: %s", x.Code, firstLine(out.String()))
}

type syncBuffer struct {
	mu sync.Mutex
	b  limitedBuffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
