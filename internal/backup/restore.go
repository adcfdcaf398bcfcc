package backup

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
)

// Contents counts what dir in the container holds (files and other entries below it, and their
// bytes); a volume nixify-init never started in holds nothing.
func Contents(ctx context.Context, cp engine.Copier, id, dir string) (entries int, size int64, err error) {
	rc, err := cp.CopyFrom(ctx, id, dir)
	if err != nil {
		return 0, 0, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	root := path.Base(dir) + "/"
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return entries, size, nil
		}
		if err != nil {
			return entries, size, err
		}
		if h.Name == root || h.Name == strings.TrimSuffix(root, "/") {
			continue
		}
		entries++
		size += h.Size
	}
}

// redisAOFBase is where an RDB snapshot goes so that a Redis running with appendonly yes (as the
// init configures it) loads it: as the base of a multi-part AOF (Redis 7 and later), with a
// manifest naming it. A dump.rdb beside an empty AOF would be ignored.
const (
	redisAOFDir      = "redis/appendonlydir"
	redisAOFBase     = "appendonly.aof.1.base.rdb"
	redisAOFManifest = "appendonly.aof.manifest"
)

// WriteFiles reads the archive at file (verified before) and writes its file parts into dataDir
// of the container (created, not started): a physical PostgreSQL backup into postgres/ (owned by
// pg, directories 0700, files 0600; the server's own recovery makes it consistent when it
// starts), Redis's snapshot, Garage's directories, the secrets. A logical PostgreSQL dump goes to
// pgDump instead. Every checksum is checked again as it is read; the files reach the container in
// one tar stream.
func WriteFiles(ctx context.Context, cp engine.Copier, id, dataDir, file string, pg Owner, pgDump io.Writer) (Manifest, error) {
	f, err := os.Open(file)
	if err != nil {
		return Manifest{}, err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	var copyErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		copyErr = cp.CopyTo(ctx, id, dataDir, pr)
		pr.CloseWithError(fmt.Errorf("copy into the container ended: %v", copyErr))
	}()
	tw := tar.NewWriter(pw)
	dirs := map[string]bool{}
	mkdirs := func(name string) error {
		var parents []string
		for d := path.Dir(name); d != "." && !dirs[d]; d = path.Dir(d) {
			parents = append([]string{d}, parents...)
		}
		for _, d := range parents {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o700, ModTime: time.Now()}); err != nil {
				return err
			}
		}
		return nil
	}
	put := func(name string, size, mode int64, r io.Reader) error {
		if err := mkdirs(name); err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: mode, ModTime: time.Now()}); err != nil {
			return err
		}
		_, err := io.Copy(tw, r)
		return err
	}
	m, err := Read(f, func(_ Manifest, mem Member, r io.Reader) error {
		switch top, _, _ := strings.Cut(mem.Name, "/"); {
		case mem.Name == BaseTar || mem.Name == WALTar:
			dir, _ := nested(mem.Name)
			if !dirs[dir] {
				dirs[dir] = true
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o700, Uid: pg.UID, Gid: pg.GID, ModTime: time.Now()}); err != nil {
					return err
				}
			}
			return putNested(tw, mem.Name, dir, pg, r)
		case mem.Name == "postgres/dumpall.sql":
			_, err := io.Copy(pgDump, r)
			return err
		case mem.Name == "redis/dump.rdb":
			if err := put(path.Join(redisAOFDir, redisAOFBase), mem.Size, 0o600, r); err != nil {
				return err
			}
			man := "file " + redisAOFBase + " seq 1 type b\n"
			return put(path.Join(redisAOFDir, redisAOFManifest), int64(len(man)), 0o600, strings.NewReader(man))
		case top == "garage" || top == "secrets":
			mode := mem.Mode & 0o777
			if top == "secrets" || mode == 0 {
				mode = 0o600
			}
			return put(mem.Name, mem.Size, mode, r)
		}
		return fmt.Errorf("%w: member %q: this nixify does not know where it goes", ErrUnsafe, mem.Name)
	})
	if err == nil {
		err = tw.Close()
	}
	pw.CloseWithError(err)
	wg.Wait()
	if err != nil {
		return m, err
	}
	return m, copyErr
}

// UserOf reads the user's uid and gid from the container's /etc/passwd (the image's users).
func UserOf(ctx context.Context, cp engine.Copier, id, user string) (Owner, error) {
	rc, err := cp.CopyFrom(ctx, id, "/etc/passwd")
	if err != nil {
		return Owner{}, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	if _, err := tr.Next(); err != nil {
		return Owner{}, fmt.Errorf("read /etc/passwd of the image: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
	if err != nil {
		return Owner{}, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) >= 4 && f[0] == user {
			uid, err1 := strconv.Atoi(f[2])
			gid, err2 := strconv.Atoi(f[3])
			if err1 == nil && err2 == nil {
				return Owner{uid, gid}, nil
			}
		}
	}
	return Owner{}, fmt.Errorf("the image has no user %s in /etc/passwd", user)
}

// LoadDump feeds a pg_dumpall script to psql inside the running container. The fresh server's
// own roles and databases already exist: those "already exists" errors are expected and counted;
// any other error fails the load, naming the first.
func LoadDump(ctx context.Context, eng engine.Engine, c engine.Container, dump io.Reader) (tolerated int, err error) {
	in := container.InsideOf(c)
	w := &psqlErrors{}
	code, err := eng.ContainerAttachExec(ctx, c.ID, pgExec(in, "psql", "-X", "-q", "-d", in.PGDB, "-v", "ON_ERROR_STOP=0", "-f", "-"),
		engine.ExecStreams{Stdin: dump, Stdout: io.Discard, Stderr: w})
	w.flush()
	if err != nil {
		return w.tolerated, err
	}
	if w.first != "" {
		return w.tolerated, fmt.Errorf("psql reported %d error(s) loading the dump; the first: %s", w.others, w.first)
	}
	if code != 0 {
		return w.tolerated, fmt.Errorf("psql exited with %d loading the dump", code)
	}
	return w.tolerated, nil
}

// SetPassword gives POSTGRES_USER the container's current password again: a dump carries the
// roles' password hashes from the server it was taken from.
func SetPassword(ctx context.Context, eng engine.Engine, c engine.Container, password string) error {
	in := container.InsideOf(c)
	sql := fmt.Sprintf("ALTER ROLE %s PASSWORD %s;\n", quoteIdent(in.PGUser), quoteLiteral(password))
	return run(ctx, eng, c.ID, pgExec(in, "psql", "-X", "-q", "-d", in.PGDB, "-v", "ON_ERROR_STOP=1", "-f", "-"), strings.NewReader(sql), io.Discard)
}

func quoteIdent(s string) string   { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

var expected = regexp.MustCompile(`ERROR:\s+(role|database) "[^"]*" already exists`)

// psqlErrors reads psql's error output line by line.
type psqlErrors struct {
	partial   []byte
	tolerated int
	others    int
	first     string
}

func (p *psqlErrors) Write(b []byte) (int, error) {
	p.partial = append(p.partial, b...)
	for {
		i := strings.IndexByte(string(p.partial), '\n')
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

func (p *psqlErrors) flush() {
	if len(p.partial) > 0 {
		p.line(string(p.partial))
		p.partial = nil
	}
}

func (p *psqlErrors) line(l string) {
	switch {
	case expected.MatchString(l):
		p.tolerated++
	case strings.Contains(l, "ERROR:") || strings.Contains(l, "FATAL:") || strings.HasPrefix(l, "psql: error"):
		p.others++
		if p.first == "" {
			p.first = strings.TrimSpace(l)
		}
	}
}
