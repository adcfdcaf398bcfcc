// Package backup implements `nixify backup`: one archive of every service's data, taken from the
// running container without stopping it (internal/backup is the archive and the taking).
package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixify/nixify/internal/backup"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/version"
	"github.com/spf13/cobra"
)

// Options is what `nixify backup` needs.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)
	Engine func() (engine.Engine, error)

	Dest           string
	IncludeSecrets bool
	Logical        bool
	Wait           time.Duration
	S3Endpoint     string
	List           bool

	s3 *backup.S3Location
}

// Summary is what the command reports at the end (-o json prints it).
type Summary struct {
	Container string           `json:"container"`
	Dest      string           `json:"dest"`
	Bytes     int64            `json:"bytes"`     // the archive's, compressed
	DataBytes int64            `json:"dataBytes"` // the parts', uncompressed
	Seconds   float64          `json:"seconds"`
	Services  []backup.Service `json:"services"`
	Members   int              `json:"members"`
}

// NewCmdBackup wires the command; runF replaces the run function in tests.
func NewCmdBackup(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "backup FILE|-|s3://BUCKET/KEY",
		Short: "Back up PostgreSQL, Redis and Garage from the running container into one archive",
		Long: `Take one archive of the running container's data without stopping it: PostgreSQL as a
physical pg_basebackup with the WAL that makes it consistent (restorable into the same major
version), or with --logical as a pg_dumpall (restorable into another major version), Redis as a BGSAVE snapshot (copied
once Redis has finished writing it), Garage's metadata and data directories, and the secrets
under /data/secrets only with --include-secrets. The archive is a tar compressed with zstd: a
manifest (image, each service's version, the time each part was taken, the size and SHA-256 of
every member) and the parts. The parts are spooled to a
temporary directory beside FILE (TMPDIR for "-"), so memory stays flat and that disk needs room
for the parts once more. The archive is written to FILE.partial-* and linked to FILE when complete;
"-" writes it to stdout (the summary then goes to stderr). FILE must not exist.
s3://BUCKET/KEY uploads it (multipart, 8 MiB parts) to --s3-endpoint with the credentials of the
usual AWS environment variables or profile; an endpoint silent for 2 minutes ends it (exit 4).`,
		Example: `  nixify backup nixify-$(date +%F).nxb
  nixify backup --include-secrets - | ssh host 'cat > backup.nxb'
  nixify backup -o json backup.nxb
  nixify backup --list ~/backups
  nixify backup --s3-endpoint http://127.0.0.1:3900 s3://backups/$(date +%F).nxb`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dest = args[0]
			if opts.List {
				return listRun(cmd.Context(), opts)
			}
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return backupRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.IncludeSecrets, "include-secrets", false, "include /data/secrets, so that a restore keeps the passwords")
	cmd.Flags().BoolVar(&opts.Logical, "logical", false, "PostgreSQL as a pg_dumpall stream, restorable into another major version")
	cmd.Flags().BoolVar(&opts.List, "list", false, "list the backups in a directory or under s3://BUCKET[/PREFIX]")
	cmd.Flags().StringVar(&opts.S3Endpoint, "s3-endpoint", "", "S3 endpoint for s3:// (default: AWS_ENDPOINT_URL_S3, else AWS)")
	cmd.Flags().DurationVar(&opts.Wait, "wait", 10*time.Minute, "how long a service may take to answer or snapshot")
	shared.AddContainerFlag(f, cmd)
	return cmd
}

func (o *Options) validate() error {
	switch {
	case strings.HasPrefix(o.Dest, "s3://"):
		loc, _, err := backup.ParseS3(o.Dest)
		if err != nil {
			return cli.UsageError(err)
		}
		o.s3 = &loc
		return nil
	case strings.Contains(o.Dest, "://"):
		return cli.Usagef("invalid destination %q: accepted: a file path, - for stdout, or s3://BUCKET/KEY", o.Dest)
	case o.Wait <= 0:
		return cli.Usagef("invalid --wait %s: accepted: a positive duration, e.g. 10m", o.Wait)
	case o.Dest == "-":
		if o.IO.IsTTY() {
			return cli.Usagef("refusing to write the archive to a terminal: give a file, or pipe stdout")
		}
		return nil
	}
	if _, err := os.Lstat(o.Dest); err == nil {
		return cli.Usagef("%s exists: nixify backup does not overwrite; choose another name", o.Dest)
	}
	if fi, err := os.Stat(filepath.Dir(o.Dest)); err != nil || !fi.IsDir() {
		return cli.Usagef("invalid destination %q: its directory %s does not exist", o.Dest, filepath.Dir(o.Dest))
	}
	return nil
}

func listRun(ctx context.Context, opts *Options) error {
	l, skipped, err := backup.ListAt(ctx, opts.Dest, opts.S3Endpoint)
	if err != nil {
		return listError(err)
	}
	return backup.PrintList(opts.IO, l, skipped)
}

func listError(err error) error {
	switch {
	case errors.Is(err, backup.ErrStalled):
		return cli.Unavailable(err, "the S3 endpoint stopped answering")
	case errors.Is(err, os.ErrNotExist):
		return cli.UsageError(err)
	}
	return cli.Fail(err)
}

func backupRun(ctx context.Context, opts *Options) error {
	began := time.Now()
	x, err := shared.FindRunning(ctx, opts.Config, opts.Engine)
	if err != nil {
		return err
	}
	defer x.Close()
	c := x.Container
	sec, err := container.ReadSecrets(ctx, x.Engine, c)
	if err != nil {
		return shared.EngineError(err)
	}
	// The parts wait beside the archive (not in a /tmp that may be memory); stdout's in TMPDIR.
	spoolDir := ""
	if opts.Dest != "-" && opts.s3 == nil {
		spoolDir = filepath.Dir(opts.Dest)
	}
	spool, err := backup.NewSpool(spoolDir)
	if err != nil {
		return cli.Fail(fmt.Errorf("temporary space for the backup: %w", err))
	}
	defer spool.Close()

	var p *iostreams.Progress
	spool.Progress = func(total int64) {
		if p != nil {
			p.Update(iostreams.Bytes(total)+" taken", 0, 0)
		}
	}
	services, err := backup.Take(ctx, backup.Source{
		Engine: x.Engine, Container: c, Secrets: sec, IncludeSecrets: opts.IncludeSecrets, Logical: opts.Logical, Wait: opts.Wait,
		Step: func(s string) {
			if p != nil {
				p.Done("")
			}
			p = opts.IO.StartProgress("backing up " + s)
		},
	}, spool)
	if err != nil {
		if p != nil {
			p.Fail("")
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, engine.ErrUnavailable) {
			return cli.EngineUnreachable(err)
		}
		return cli.Failed(fmt.Errorf("backup of %s: %w", c.Name, err), "nothing was written; see `nixify logs` for the service's side")
	}
	if p != nil {
		p.Done("")
	}
	m := backup.Manifest{Nixify: version.Get().Version, Created: began.UTC(), Container: c.Name, ImageID: c.Image,
		Services: services, Secrets: opts.IncludeSecrets}
	if img, err := x.Engine.ImageInspect(ctx, c.Image); err == nil && len(img.RepoTags) > 0 {
		m.Image = shared.ImageName(img.RepoTags)
	}
	p = opts.IO.StartProgress("writing " + opts.Dest)
	n, err := write(ctx, opts, spool, m)
	if err != nil {
		if errors.Is(err, backup.ErrStalled) {
			return cli.Unavailable(fmt.Errorf("write %s: %w", opts.Dest, err), "the S3 endpoint stopped answering; nothing is kept there (the upload was aborted)")
		}
		p.Fail("")
		return cli.Fail(fmt.Errorf("write %s: %w", opts.Dest, err))
	}
	p.Done("")
	var data int64
	for _, mem := range spool.Members() {
		data += mem.Size
	}
	sum := Summary{Container: c.Name, Dest: opts.Dest, Bytes: n, DataBytes: data, Seconds: time.Since(began).Seconds(),
		Services: services, Members: len(spool.Members())}
	return report(opts, sum)
}

// write writes the archive to stdout, or to FILE.partial-* renamed to FILE once complete.
func write(ctx context.Context, opts *Options, spool *backup.Spool, m backup.Manifest) (int64, error) {
	if opts.Dest == "-" {
		return spool.WriteTo(opts.IO.Out, m)
	}
	if opts.s3 != nil {
		client, err := backup.NewS3(ctx, opts.S3Endpoint, 2*time.Minute)
		if err != nil {
			return 0, err
		}
		pr, pw := io.Pipe()
		var n int64
		go func() {
			var err error
			n, err = spool.WriteTo(pw, m)
			pw.CloseWithError(err)
		}()
		err = client.Upload(ctx, *opts.s3, pr)
		pr.CloseWithError(errors.New("upload ended"))
		return n, err
	}
	dir, base := filepath.Split(opts.Dest)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, base+".partial-*")
	if err != nil {
		return 0, err
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	n, err := spool.WriteTo(f, m)
	if err != nil {
		return n, err
	}
	if err := f.Sync(); err != nil {
		return n, err
	}
	if err := f.Close(); err != nil {
		return n, err
	}
	// Link, not rename: a FILE made meanwhile by someone else is not replaced.
	if err := os.Link(f.Name(), opts.Dest); err != nil {
		return n, err
	}
	done = true
	os.Remove(f.Name())
	return n, nil
}

func report(opts *Options, s Summary) error {
	out := opts.IO.Out
	if opts.Dest == "-" {
		out = opts.IO.ErrOut
	}
	if opts.IO.WantsJSON() {
		if opts.Dest != "-" {
			return opts.IO.WriteJSON(s)
		}
		enc := json.NewEncoder(opts.IO.ErrOut)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	var parts []string
	for _, sv := range s.Services {
		part := sv.Name
		if v := strings.Fields(sv.Version); len(v) > 0 {
			part += " " + v[0]
		}
		parts = append(parts, part)
	}
	dest := s.Dest
	if dest == "-" {
		dest = "stdout"
	}
	fmt.Fprintf(out, "%s backed up %s to %s: %s in %.1fs (%s)\n", opts.IO.Styles().OK.Render("✓"), s.Container,
		dest, iostreams.Bytes(s.Bytes), s.Seconds, strings.Join(parts, ", "))
	return nil
}
