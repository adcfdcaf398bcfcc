package backup

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
)

// Source is the running container a backup is taken from.
type Source struct {
	Engine    engine.Engine
	Container engine.Container
	Secrets   container.Secrets
	// IncludeSecrets adds /data/secrets to the archive.
	IncludeSecrets bool
	// Logical takes PostgreSQL as a pg_dumpall stream instead of a physical base backup.
	Logical bool
	// Wait bounds each wait for a service (Redis's BGSAVE to finish).
	Wait time.Duration
	// Progress, when set, is told how far a part whose size is known ahead is (bytes).
	Progress func(done, total int64)
	// Step is told what is being taken ("postgres", "redis", ...), for a progress line.
	Step func(service string)
}

// Copier returns the engine's stream copy, which backup and restore need.
func Copier(eng engine.Engine) (engine.Copier, error) {
	c, ok := eng.(engine.Copier)
	if !ok {
		return nil, errors.New("this engine connection cannot copy files in and out of containers")
	}
	return c, nil
}

// Take takes every part of the running container into the spool and returns the manifest's
// services (the members are the spool's). Nothing in the container is stopped.
func Take(ctx context.Context, src Source, spool *Spool) ([]Service, error) {
	cp, err := Copier(src.Engine)
	if err != nil {
		return nil, err
	}
	in := container.InsideOf(src.Container)
	step := func(s string) {
		if src.Step != nil {
			src.Step(s)
		}
	}
	var out []Service
	if in.Runs("postgres") {
		step("postgres")
		take := takeBaseBackup
		if src.Logical {
			take = takeDump
		}
		s, err := take(ctx, src, cp, in, spool)
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		out = append(out, s)
	}
	if in.Runs("redis") {
		step("redis")
		s, err := takeRedis(ctx, src, cp, in, spool)
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("no answer or no finished snapshot within --wait %s (Redis is left as it is): %w", src.Wait, ErrStalled)
		}
		if err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		out = append(out, s)
	}
	if in.Runs("s3") {
		step("garage")
		taken := time.Now()
		n, err := AddTree(ctx, cp, src.Container.ID, path.Join(in.DataDir, "garage"), "garage", []string{"meta", "data"}, spool)
		if err != nil {
			return nil, fmt.Errorf("garage: %w", err)
		}
		out = append(out, Service{Name: "garage", Method: "files", Kind: KindFiles, TakenAt: taken.UTC(), Bytes: n})
	}
	if src.IncludeSecrets {
		step("secrets")
		taken := time.Now()
		n, err := AddTree(ctx, cp, src.Container.ID, in.DataDir, "", []string{"secrets"}, spool)
		if err != nil {
			return nil, fmt.Errorf("secrets: %w", err)
		}
		out = append(out, Service{Name: "secrets", Method: "files", Kind: KindFiles, TakenAt: taken.UTC(), Bytes: n})
	}
	return out, nil
}

// pgExec is a PostgreSQL client program inside the container, run as the operating-system user
// postgres over the server's unix socket, where the init's pg_ident map lets it in as
// POSTGRES_USER without a password (so `\connect` in a dump needs none either).
func pgExec(in container.Inside, cmd ...string) engine.ExecSpec {
	args := append(cmd[:1:1], "-h", in.RunDir, "-p", strconv.Itoa(in.PGPort), "-U", in.PGUser)
	return engine.ExecSpec{Cmd: append(args, cmd[1:]...), User: "postgres", Env: []string{"PSQL_HISTORY=/dev/null", "PSQL_PAGER="}}
}

// run runs spec in the container with stdin (may be nil) and returns stdout; a non-zero exit is
// an error carrying the first line of stderr.
func run(ctx context.Context, eng engine.Engine, id string, spec engine.ExecSpec, stdin io.Reader, stdout io.Writer) error {
	var errOut limitedBuffer
	code, err := eng.ContainerAttachExec(ctx, id, spec, engine.ExecStreams{Stdin: stdin, Stdout: stdout, Stderr: &errOut})
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("%s exited with %d: %s", spec.Cmd[0], code, firstLine(errOut.String()))
	}
	return nil
}

func output(ctx context.Context, eng engine.Engine, id string, spec engine.ExecSpec) (string, error) {
	var out limitedBuffer
	err := run(ctx, eng, id, spec, nil, &out)
	return out.String(), err
}

// limitedBuffer keeps the first 64 KiB written and drops the rest (a command's error output).
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return "(no message)"
}

func pgServerVersion(ctx context.Context, src Source, in container.Inside) (string, error) {
	ver, err := output(ctx, src.Engine, src.Container.ID, pgExec(in, "psql", "-d", in.PGDB, "-tAXc", "show server_version"))
	return strings.TrimSpace(ver), err
}

// takeDump streams pg_dumpall's output into the spool: a logical dump, taken while the server
// runs (each database with its own snapshot), restorable into another major version.
func takeDump(ctx context.Context, src Source, _ engine.Copier, in container.Inside, spool *Spool) (Service, error) {
	id := src.Container.ID
	ver, err := pgServerVersion(ctx, src, in)
	if err != nil {
		return Service{}, err
	}
	taken := time.Now()
	// A lock the dump waits for is given up after the wait bound (pg_dumpall's own option), and a
	// dump that sends nothing for that long is ended: the server is left as it is.
	wctx, w := watch(ctx, src.Wait)
	defer w.stop()
	lockWait := fmt.Sprintf("--lock-wait-timeout=%d", src.Wait.Milliseconds())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(wctx, src.Engine, id, pgExec(in, "pg_dumpall", "-l", in.PGDB, lockWait), nil, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	m, addErr := spool.Add("postgres/dumpall.sql", 0o600, taken, w.reader(pr))
	pr.CloseWithError(errors.New("spool failed"))
	if err := <-done; err != nil {
		if w.isStalled() {
			return Service{}, fmt.Errorf("pg_dumpall sent nothing for %s (waiting for a lock? see pg_stat_activity): %w", src.Wait, ErrStalled)
		}
		return Service{}, err
	}
	if addErr != nil {
		return Service{}, addErr
	}
	return Service{Name: "postgres", Version: ver, Method: MethodDumpall, Kind: KindLogical, TakenAt: taken.UTC(), Bytes: m.Size}, nil
}

// redisInfo is what INFO persistence says about snapshots.
type redisInfo struct {
	inProgress bool
	saves      int64 // rdb_saves (Redis 7+); -1 when absent
	lastSave   int64
	lastOK     bool
}

func parseRedisInfo(s string) redisInfo {
	ri := redisInfo{saves: -1}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "rdb_bgsave_in_progress":
			ri.inProgress = v == "1"
		case "rdb_saves":
			ri.saves = n
		case "rdb_last_save_time":
			ri.lastSave = n
		case "rdb_last_bgsave_status":
			ri.lastOK = v == "ok"
		}
	}
	return ri
}

func redisExec(in container.Inside, sec container.Secrets, args ...string) engine.ExecSpec {
	spec := engine.ExecSpec{Cmd: append([]string{"redis-cli", "-h", in.RedisHost, "-p", strconv.Itoa(in.RedisPort)}, args...), User: "redis"}
	if sec.RedisPassword != "" {
		spec.Env = []string{"REDISCLI_AUTH=" + sec.RedisPassword}
	}
	return spec
}

// takeRedis asks Redis for a snapshot (BGSAVE), waits until that snapshot has finished (a save
// counted after ours began, none in progress, the last one ok) within src.Wait, and then copies
// the finished dump.rdb, which Redis replaces by rename only: never a file being written.
func takeRedis(ctx context.Context, src Source, cp engine.Copier, in container.Inside, spool *Spool) (Service, error) {
	id := src.Container.ID
	// Every question to Redis, and the wait for the snapshot, within the wait bound: a Redis that
	// stops answering is reported, not waited for forever.
	ctx, cancel := context.WithTimeoutCause(ctx, src.Wait, ErrStalled)
	defer cancel()
	info := func() (redisInfo, error) {
		out, err := output(ctx, src.Engine, id, redisExec(in, src.Secrets, "INFO", "persistence"))
		if err != nil {
			return redisInfo{}, err
		}
		if !strings.Contains(out, "rdb_last_save_time") {
			return redisInfo{}, fmt.Errorf("INFO persistence answered %q", firstLine(out))
		}
		return parseRedisInfo(out), nil
	}
	server, err := output(ctx, src.Engine, id, redisExec(in, src.Secrets, "INFO", "server"))
	if err != nil {
		return Service{}, err
	}
	before, err := info()
	if err != nil {
		return Service{}, err
	}
	asked := time.Now()
	// SCHEDULE: when an AOF rewrite runs, Redis saves as soon as it ends instead of refusing.
	reply, err := output(ctx, src.Engine, id, redisExec(in, src.Secrets, "BGSAVE", "SCHEDULE"))
	if err != nil {
		return Service{}, err
	}
	started := strings.Contains(reply, "started") || strings.Contains(reply, "scheduled")
	if !started && !strings.Contains(reply, "in progress") {
		return Service{}, fmt.Errorf("BGSAVE answered %q", firstLine(reply))
	}
	deadline := time.Now().Add(src.Wait)
	var now redisInfo
	for {
		if now, err = info(); err != nil {
			return Service{}, err
		}
		newer := now.saves > before.saves || (before.saves < 0 && now.lastSave > before.lastSave)
		if !now.inProgress && newer && started {
			break
		}
		if !now.inProgress && !started {
			// Another snapshot was running when we asked: ask again now that it ended.
			reply, err := output(ctx, src.Engine, id, redisExec(in, src.Secrets, "BGSAVE", "SCHEDULE"))
			if err != nil {
				return Service{}, err
			}
			started = strings.Contains(reply, "started") || strings.Contains(reply, "scheduled")
			before = now
		}
		if time.Now().After(deadline) {
			return Service{}, fmt.Errorf("the snapshot asked at %s has not finished within %s (Redis is still saving; nothing was stopped): wait longer with --wait", asked.Format(time.TimeOnly), src.Wait)
		}
		select {
		case <-ctx.Done():
			return Service{}, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	if !now.lastOK {
		return Service{}, errors.New("the last snapshot failed (rdb_last_bgsave_status is not ok): see `nixify logs`")
	}
	rc, err := cp.CopyFrom(ctx, id, path.Join(in.DataDir, "redis", "dump.rdb"))
	if err != nil {
		return Service{}, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	h, err := tr.Next()
	if err != nil {
		return Service{}, fmt.Errorf("read dump.rdb: %w", err)
	}
	if h.Typeflag != tar.TypeReg {
		return Service{}, errors.New("dump.rdb is not a regular file")
	}
	taken := time.Unix(now.lastSave, 0)
	m, err := spool.Add("redis/dump.rdb", 0o600, taken, tr)
	if err != nil {
		return Service{}, err
	}
	return Service{Name: "redis", Version: infoField(server, "redis_version"), Method: "bgsave", Kind: KindSnapshot, TakenAt: taken.UTC(), Bytes: m.Size}, nil
}

func infoField(info, key string) string {
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), key+":"); ok {
			return v
		}
	}
	return ""
}

// AddTree copies the directories subs of dir in the container into the spool as
// prefix/sub/...: regular files only (directories are implied; anything else is refused). It
// returns the bytes added.
func AddTree(ctx context.Context, cp engine.Copier, id, dir, prefix string, subs []string, spool *Spool) (int64, error) {
	var total int64
	for _, sub := range subs {
		rc, err := cp.CopyFrom(ctx, id, path.Join(dir, sub))
		if errors.Is(err, engine.ErrNotFound) {
			continue
		}
		if err != nil {
			return total, err
		}
		n, err := addTar(rc, prefix, spool)
		rc.Close()
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// addTar adds the regular files of a tar stream under prefix.
func addTar(r io.Reader, prefix string, spool *Spool) (int64, error) {
	var total int64
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		name := strings.TrimSuffix(h.Name, "/")
		if prefix != "" {
			name = prefix + "/" + name
		}
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return total, fmt.Errorf("%s is not a regular file or directory (type %q): not backed up", name, h.Typeflag)
		}
		m, err := spool.Add(name, h.Mode, h.ModTime, tr)
		if err != nil {
			return total, err
		}
		total += m.Size
	}
}
