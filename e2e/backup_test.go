package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nixify/nixify/e2e/testimage"
	"github.com/nixify/nixify/internal/backup"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/testpeer"
)

var (
	backupOnce sync.Once
	backupImg  archive
)

// backupImage is the full test image plus pg_basebackup, pg_dumpall and pg_dump, which `nixify
// backup` runs inside the container (the Nix image keeps them: image/postgresql/trim.sh), and
// amcheck with pg_amcheck, PostgreSQL's own check of a restored cluster.
func backupImage(t *testing.T) archive {
	t.Helper()
	fullImage(t) // the same peers are needed; it reports the missing ones
	backupOnce.Do(func() {
		backupImg.tag = "nixify-e2e-backup:" + randomSuffix()
		init, err := testimage.BuildInit(moduleRoot(t), "amd64", workDir)
		if err != nil {
			backupImg.err = err
			return
		}
		spec, err := testimage.Services(init, backupImg.tag)
		if err != nil {
			backupImg.err = err
			return
		}
		extra, err := testimage.WithLibraries(filepath.Join(testimage.PostgresBin, "pg_dumpall"), filepath.Join(testimage.PostgresBin, "pg_dump"),
			filepath.Join(testimage.PostgresBin, "pg_basebackup"), filepath.Join(testimage.PostgresBin, "pg_amcheck"),
			"/usr/lib/postgresql/15/lib/amcheck.so")
		if err != nil {
			backupImg.err = err
			return
		}
		spec.Entries = append(spec.Entries, extra...)
		spec.Labels["io.nixify.test.run"] = backupImg.tag
		backupImg.path = filepath.Join(workDir, "backup.tar")
		backupImg.digest, backupImg.err = testimage.Write(spec, backupImg.path)
	})
	if backupImg.err != nil {
		t.Fatalf("assemble the backup test image: %v", backupImg.err)
	}
	return backupImg
}

// TestBackupRestore is issue 24's round trip on the real engine: rows in PostgreSQL and keys in
// Redis, backed up while the container runs, restored into a fresh volume (rows and keys back);
// a flipped byte refused before anything exists; a volume with data refused without --force and,
// with it, its data moved to a new volume first.
func TestBackupRestore(t *testing.T) {
	eng := testpeer.Engine(t)
	img := backupImage(t)
	ctx := context.Background()
	src := newEnv(t)
	src.removeAfter(eng, img)
	if r := src.nixify("run", "--tar", img.path, "--timeout", "90s"); r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, r.errOut)
	}
	sql := "CREATE TABLE kept (n int, s text); INSERT INTO kept SELECT g, 'row ''' || g || E'''\\n\\\\' FROM generate_series(1, 5000) g;\n" +
		"CREATE DATABASE second; \\connect second\nCREATE TABLE t2 (x text); INSERT INTO t2 VALUES ('in the second database');\n"
	if r := src.nixifyIn(sql, "psql", "--", "-q", "-v", "ON_ERROR_STOP=1"); r.code != 0 {
		t.Fatalf("write rows: exit %d\n%s", r.code, r.errOut)
	}
	if r := src.nixifyIn("SET k1 v1\nSET \"k 2\" \"quote\\\" and\\nnewline\"\nRPUSH list a b c\n", "redis-cli"); r.code != 0 {
		t.Fatalf("write keys: exit %d", r.code)
	}

	// A writer keeps inserting, one transaction a row, while the backup runs; every row committed
	// before the backup began must come back.
	if r := src.nixifyIn("CREATE TABLE w (i int primary key);\n", "psql", "--", "-q", "-v", "ON_ERROR_STOP=1"); r.code != 0 {
		t.Fatalf("create w: exit %d", r.code)
	}
	c, err := eng.ContainerInspect(ctx, src.container)
	if err != nil {
		t.Fatal(err)
	}
	writer := `i=1; while [ ! -e /tmp/stop-writer ]; do psql -h /run/postgresql -U postgres -qAtc "insert into w values ($i)" >/dev/null || exit 1; i=$((i+1)); done`
	go eng.ContainerExec(ctx, c.ID, []string{"sh", "-c", writer}, "postgres")
	t.Cleanup(func() { eng.ContainerExec(ctx, c.ID, []string{"sh", "-c", ": > /tmp/stop-writer"}, "postgres") })
	var before int
	for tries := 0; before < 20; tries++ {
		if tries == 300 {
			t.Fatal("the writer wrote nothing")
		}
		out := src.nixify("psql", "--", "-tAc", "select count(*) from w").out
		fmt.Sscan(strings.TrimSpace(out), &before)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "b.nxb")
	r := src.nixify("-o", "json", "backup", file)
	// The logical form too, while the writer still writes.
	logicalFile := filepath.Join(t.TempDir(), "logical.nxb")
	rl := src.nixify("backup", "--logical", logicalFile)
	if x, err := eng.ContainerExec(ctx, c.ID, []string{"sh", "-c", ": > /tmp/stop-writer"}, "postgres"); err != nil || x.ExitCode != 0 {
		t.Fatalf("stop the writer: %+v %v", x, err)
	}
	if r.code != 0 {
		t.Fatalf("backup: exit %d\n%s", r.code, r.errOut)
	}
	var sum struct {
		Bytes    int64 `json:"bytes"`
		Services []struct {
			Name, Method, Version string
			Bytes                 int64
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(r.out), &sum); err != nil || len(sum.Services) != 2 || sum.Services[0].Name != "postgres" ||
		sum.Services[0].Method != "pg_basebackup" || sum.Services[1].Name != "redis" || sum.Services[1].Method != "bgsave" ||
		!strings.HasPrefix(sum.Services[0].Version, "15.") {
		t.Fatalf("backup -o json: %v %+v", err, sum)
	}
	if rl.code != 0 {
		t.Fatalf("backup --logical: exit %d\n%s", rl.code, rl.errOut)
	}
	if m, err := backup.VerifyFile(logicalFile); err != nil || m.Services[0].Method != "pg_dumpall" || m.Services[0].Kind != "logical" || m.Format != 1 {
		t.Fatalf("the logical archive: %v %+v", err, m)
	}
	if m, err := backup.VerifyFile(file); err != nil || m.Services[0].Kind != "physical" || m.Format != 2 {
		t.Fatalf("the physical archive: %v %+v", err, m)
	}
	if fi, err := os.Stat(file); err != nil || fi.Size() != sum.Bytes || fi.Mode().Perm() != 0o600 {
		t.Fatalf("archive: %v, %v (summary says %d bytes)", fi, err, sum.Bytes)
	}
	if r := src.nixify("backup", file); r.code != 2 || !strings.Contains(r.errOut, "exists") {
		t.Fatalf("backup onto an existing file: exit %d, %q", r.code, r.errOut)
	}
	// To stdout: the archive alone there, the summary on stderr.
	piped := src.nixify("backup", "-")
	if piped.code != 0 || !strings.Contains(piped.errOut, "backed up") || strings.Contains(piped.out, "backed up") {
		t.Fatalf("backup -: exit %d, %q", piped.code, piped.errOut)
	}
	if _, err := backup.Verify(strings.NewReader(piped.out)); err != nil {
		t.Fatalf("the archive backup - wrote: %v", err)
	}

	// Through S3: the same archive up to the real S3 server and back into another fresh volume.
	vgw := testpeer.StartVersitygwMultipart(t, "nixifykey", "nixify/secret+", "garage")
	vgw.Bucket(t, "backups")
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "nixifykey", "AWS_SECRET_ACCESS_KEY": "nixify/secret+", "AWS_REGION": "garage",
		"AWS_CONFIG_FILE": filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"), "AWS_PROFILE": "", "AWS_ENDPOINT_URL_S3": ""} {
		t.Setenv(k, v)
	}
	endpoint := "http://" + vgw.Addr()
	if r := src.nixify("backup", "--s3-endpoint", endpoint, "s3://backups/nixify/b.nxb"); r.code != 0 || !strings.Contains(r.out, "s3://backups/nixify/b.nxb") {
		t.Fatalf("backup to S3: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	for _, args := range [][]string{{"backup", "--list", dir}, {"restore", "--list", "--s3-endpoint", endpoint, "s3://backups/nixify/"}} {
		r := src.nixify(append([]string{"-o", "json"}, args...)...)
		var l []struct {
			Name     string   `json:"name"`
			Services []string `json:"services"`
		}
		if err := json.Unmarshal([]byte(r.out), &l); r.code != 0 || err != nil || len(l) != 1 || len(l[0].Services) != 2 || !strings.HasSuffix(l[0].Name, "b.nxb") {
			t.Fatalf("%v: exit %d, %v, %q", args, r.code, err, r.out)
		}
	}
	viaS3 := newEnv(t)
	viaS3.removeAfter(eng, img)
	if r := viaS3.nixify("restore", "--s3-endpoint", endpoint, "s3://backups/nixify/absent.nxb"); r.code != 1 {
		t.Fatalf("restore of a key the bucket lacks: exit %d, %q", r.code, r.errOut)
	}
	if r := viaS3.nixify("restore", "--s3-endpoint", endpoint, "s3://backups/nixify/b.nxb"); r.code != 0 {
		t.Fatalf("restore from S3: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	checkRestored(t, viaS3)

	// A Redis that stops answering (SIGSTOP) is reported within --wait, and nothing is written.
	if x, err := eng.ContainerExec(ctx, c.ID, []string{"sh", "-c", "kill -STOP $(pidof redis-server)"}, ""); err != nil || x.ExitCode != 0 {
		t.Fatalf("stop redis: %+v %v", x, err)
	}
	stalled := filepath.Join(dir, "stalled.nxb")
	r = src.nixify("backup", "--wait", "3s", stalled)
	eng.ContainerExec(ctx, c.ID, []string{"sh", "-c", "kill -CONT $(pidof redis-server)"}, "")
	if r.code != 1 || !strings.Contains(r.errOut, "within --wait 3s") {
		t.Fatalf("backup with Redis stopped: exit %d, %q", r.code, r.errOut)
	}
	if _, err := os.Stat(stalled); err == nil {
		t.Fatal("a failed backup left its file")
	}

	// One flipped byte: exit 2, and nothing was made on the engine.
	dst := newEnv(t)
	dst.removeAfter(eng, img)
	t.Cleanup(func() {
		aside, _ := eng.VolumeList(context.Background(), "io.nixify.restore.before", dst.volume)
		for _, v := range aside {
			eng.VolumeRemove(context.Background(), v.Name)
		}
	})
	data, _ := os.ReadFile(file)
	data[len(data)/2] ^= 0x10
	bad := filepath.Join(dir, "bad.nxb")
	os.WriteFile(bad, data, 0o600)
	if r := dst.nixify("restore", bad); r.code != 2 || !strings.Contains(r.errOut, "nothing was written") {
		t.Fatalf("restore of a flipped byte: exit %d, %q", r.code, r.errOut)
	}
	if _, err := eng.VolumeInspect(ctx, dst.volume); err == nil {
		t.Fatal("a refused archive created the volume")
	}
	if _, err := eng.ContainerInspect(ctx, dst.container); err == nil {
		t.Fatal("a refused archive created the container")
	}

	// The restore into a fresh volume: rows, the second database and keys are back.
	if r := dst.nixify("restore", file); r.code != 0 || !strings.Contains(r.out, "healthy") {
		t.Fatalf("restore: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	checkRestored(t, dst)
	checkWriter(t, dst, before)

	// The logical archive, into another fresh volume: the same rows, and PostgreSQL's checks.
	logical := newEnv(t)
	logical.removeAfter(eng, img)
	if r := logical.nixify("restore", logicalFile); r.code != 0 {
		t.Fatalf("restore of the logical archive: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	checkRestored(t, logical)
	checkWriter(t, logical, before)

	// A physical backup of another major is refused before anything is made, pointing to --logical.
	other := filepath.Join(dir, "other-major.nxb")
	rewriteManifest(t, file, other, func(m *backup.Manifest) { m.Services[0].Version = "14.9" })
	om := newEnv(t)
	om.removeAfter(eng, img)
	if r := om.nixify("restore", other); r.code != 1 || !strings.Contains(r.errOut, "physical backup of PostgreSQL 14.9") ||
		!strings.Contains(r.errOut, "PostgreSQL 15.") || !strings.Contains(r.errOut, "--logical") {
		t.Fatalf("restore of another major's physical backup: exit %d\n%s", r.code, r.errOut)
	}
	if _, err := eng.VolumeInspect(ctx, om.volume); err == nil {
		t.Fatal("a refused major created the volume")
	}

	// A volume that holds data: refused without --force, and untouched.
	if r := dst.nixify("stop"); r.code != 0 {
		t.Fatalf("stop: exit %d", r.code)
	}
	if r := dst.nixify("restore", file); r.code != 1 || !strings.Contains(r.errOut, "holds data") {
		t.Fatalf("restore into a volume with data: exit %d, %q", r.code, r.errOut)
	}
	if r := dst.nixify("start"); r.code != 0 {
		t.Fatalf("start after the refusal: exit %d", r.code)
	}
	checkRestored(t, dst) // untouched by the refusal
	if r := dst.nixifyIn("INSERT INTO kept VALUES (1, 'after the backup');\n", "psql", "--", "-v", "ON_ERROR_STOP=1"); r.code != 0 {
		t.Fatalf("insert after the backup: exit %d", r.code)
	}
	if r := dst.nixify("restore", "--force", file); r.code != 1 || !strings.Contains(r.errOut, "running") {
		t.Fatalf("restore --force into a running container: exit %d, %q", r.code, r.errOut)
	}
	dst.nixify("stop")
	// With --force: the old data goes to a new volume first, then the archive is restored.
	r = dst.nixifyIn(piped.out, "restore", "--force", "-")
	if r.code != 0 || !strings.Contains(r.out, "before-restore") {
		t.Fatalf("restore --force: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
	checkRestored(t, dst) // the row inserted after the backup is gone: 5000 rows, not 5001
	restoredAgain := dst.nixifyIn("SELECT count(*) FROM kept WHERE s = 'after the backup';\n", "psql", "--", "-tA")
	if strings.TrimSpace(restoredAgain.out) != "0" {
		t.Fatalf("the volume was not emptied before the restore: %q", restoredAgain.out)
	}
	aside, err := eng.VolumeList(ctx, "io.nixify.restore.before", dst.volume)
	if err != nil || len(aside) != 1 {
		t.Fatalf("the moved-aside volume: %v %v", aside, err)
	}
}

// checkWriter: every row the writer committed before the backup began is back, without gaps, and
// PostgreSQL's own checks pass: amcheck over every heap and B-tree index of every database
// (pg_amcheck), and a full pg_dumpall read.
func checkWriter(t *testing.T, e *env, before int) {
	t.Helper()
	r := e.nixify("psql", "--", "-tAc", "select count(*), coalesce(max(i), 0) from w")
	var n, maxI int
	if _, err := fmt.Sscanf(strings.TrimSpace(r.out), "%d|%d", &n, &maxI); err != nil || n < before || n != maxI {
		t.Fatalf("rows of the writer: %q (%v); want all of the %d committed before the backup, without gaps", r.out, err, before)
	}
	t.Logf("writer: %d rows committed before the backup began, %d in the restored database", before, n)
	if r := e.nixify("exec", "--user", "postgres", "--", "pg_amcheck", "-h", "/run/postgresql", "-U", "postgres", "--all",
		"--install-missing", "--heapallindexed"); r.code != 0 {
		t.Fatalf("pg_amcheck of the restored server: exit %d, %q %q", r.code, r.out, r.errOut)
	}
	if r := e.nixify("exec", "--user", "postgres", "--", "pg_dumpall", "-h", "/run/postgresql", "-U", "postgres", "--no-sync", "-f", "/dev/null"); r.code != 0 {
		t.Fatalf("full read of the restored server: exit %d, %q", r.code, r.errOut)
	}
}

// rewriteManifest writes to dst the archive src with its manifest changed by edit (checksums
// made again): an archive as another nixify, or another server, could have written it.
func rewriteManifest(t *testing.T, src, dst string, edit func(*backup.Manifest)) {
	t.Helper()
	spool, err := backup.NewSpool(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer spool.Close()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := backup.Read(f, func(_ backup.Manifest, mem backup.Member, r io.Reader) error {
		_, err := spool.Add(mem.Name, mem.Mode, mem.TakenAt, r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	edit(&m)
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := spool.WriteTo(out, m); err != nil {
		t.Fatal(err)
	}
}

func checkRestored(t *testing.T, e *env) {
	t.Helper()
	r := e.nixifyIn("SELECT count(*), sum(n), max(s) FROM kept;\n\\connect second\nSELECT x FROM t2;\n", "psql", "--", "-tA", "-v", "ON_ERROR_STOP=1")
	if r.code != 0 || !strings.Contains(r.out, "5000|12502500|row '999'\n\\\n") || !strings.Contains(r.out, "in the second database") {
		t.Fatalf("rows after the restore: exit %d %q %s", r.code, r.out, r.errOut)
	}
	r = e.nixifyIn("GET k1\nGET \"k 2\"\nLRANGE list 0 -1\n", "redis-cli")
	if r.code != 0 || !strings.Contains(r.out, "v1") || !strings.Contains(r.out, "quote\" and\nnewline") || !strings.Contains(r.out, "a\nb\nc") {
		t.Fatalf("keys after the restore: exit %d %q", r.code, r.out)
	}
}

// TestRunRefusesAnotherPostgresMajor: a volume whose cluster another PostgreSQL major wrote stops
// the init before anything starts, and `nixify run` shows the init's line with both versions and
// the way out, not only an exit code.
func TestRunRefusesAnotherPostgresMajor(t *testing.T) {
	eng := testpeer.Engine(t)
	img := fullImage(t)
	ctx := context.Background()
	e := newEnv(t)
	e.removeAfter(eng, img)
	if r := e.nixify("run", "--tar", img.path, "--timeout", "90s"); r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, r.errOut)
	}
	if r := e.nixify("stop"); r.code != 0 {
		t.Fatalf("stop: exit %d\n%s", r.code, r.errOut)
	}
	cp, err := backup.Copier(eng)
	if err != nil {
		t.Fatal(err)
	}
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "PG_VERSION", Mode: 0o600, Size: 3, Uid: 999, Gid: 999})
	tw.Write([]byte("14\n"))
	tw.Close()
	if err := cp.CopyTo(ctx, e.container, "/data/postgres", &tb); err != nil {
		t.Fatal(err)
	}
	r := e.nixify("run", "--tar", img.path, "--timeout", "90s")
	// The error line itself names it (the log lines above it may be the last run's).
	_, line, _ := strings.Cut(r.errOut, "\nnixify: ")
	line, _, _ = strings.Cut(line, "\n")
	if r.code != cli.ExitFailure || !strings.Contains(line, "exited with code 4") || !strings.Contains(line, "PostgreSQL 14 cluster") ||
		!strings.Contains(line, "server is PostgreSQL 15.") || !strings.Contains(line, "nixify backup --logical") {
		t.Fatalf("run on another major's cluster: exit %d\n%s", r.code, r.errOut)
	}
	t.Logf("nixify run said:\n%s", r.errOut)
}
