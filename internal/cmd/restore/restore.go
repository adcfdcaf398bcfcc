// Package restore implements `nixify restore`: an archive `nixify backup` wrote, verified in full,
// written into the data volume, the container started and, once healthy, the PostgreSQL dump
// loaded.
package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nixify/nixify/internal/backup"
	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/shared"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/initenv"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/version"
	"github.com/nixify/nixify/pkg/health"
	"github.com/spf13/cobra"
)

// Options is what `nixify restore` needs.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)
	Engine func() (engine.Engine, error)

	File       string
	S3Endpoint string
	List       bool
	Force      bool
	Image      string
	Timeout    time.Duration
}

// Summary is what the command reports at the end (-o json prints it).
type Summary struct {
	Container string           `json:"container"`
	Volume    string           `json:"volume"`
	MovedTo   string           `json:"movedAsideTo,omitempty"`
	Services  []backup.Service `json:"services"`
	Secrets   bool             `json:"secretsRestored"`
	Seconds   float64          `json:"seconds"`
	URL       string           `json:"url"`
}

// NewCmdRestore wires the command; runF replaces the run function in tests.
func NewCmdRestore(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "restore FILE|-|s3://BUCKET/KEY",
		Short: "Restore a backup into the data volume, start the container and wait until healthy",
		Long: `Restore an archive of nixify backup ("-" reads it from stdin) into the configured data
volume; s3://BUCKET/KEY downloads it first (--s3-endpoint, AWS credentials as for backup).
The whole archive is read and every member's size and SHA-256, and the archive's own
checksum, are checked before anything is written: a damaged, truncated or hostile archive (a
member leaving its directory) is exit 2 and leaves everything as it was.

The container must not be running. A volume that holds data is refused unless --force; then
its data is first copied to a new volume VOLUME-before-restore-TIME (kept; nixify clean leaves
it alone), and only then is the old container removed and the volume emptied. Redis's snapshot,
Garage's directories and (when the archive holds them) the secrets are written into the volume,
the container is created (from the configuration, with the archive's image or --image) and
started, and once healthy a logical PostgreSQL dump is loaded into whatever PostgreSQL the image
has. A physical PostgreSQL backup is laid into /data/postgres before the start and made
consistent by PostgreSQL's own recovery; one of another major version than the image's server
is refused before anything is written (take a --logical backup instead).
Without secrets in the archive the container generates new passwords (see nixify env).`,
		Example: `  nixify restore nixify-2026-12-04.nxb
  nixify restore --force --volume nixify-data nixify-2026-12-04.nxb
  ssh host 'cat backup.nxb' | nixify restore -`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if opts.List {
				l, skipped, err := backup.ListAt(cmd.Context(), opts.File, opts.S3Endpoint)
				switch {
				case errors.Is(err, os.ErrNotExist):
					return cli.UsageError(err)
				case errors.Is(err, backup.ErrStalled):
					return cli.Unavailable(err, "the S3 endpoint stopped answering")
				case err != nil:
					return cli.Fail(err)
				}
				return backup.PrintList(opts.IO, l, skipped)
			}
			if opts.Timeout <= 0 {
				return cli.Usagef("invalid --timeout %s: accepted: a positive duration, e.g. 2m", opts.Timeout)
			}
			if runF != nil {
				return runF(opts)
			}
			return restoreRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.List, "list", false, "list the backups in a directory or under s3://BUCKET[/PREFIX]")
	fl.StringVar(&opts.S3Endpoint, "s3-endpoint", "", "S3 endpoint for s3:// (default: AWS_ENDPOINT_URL_S3, else AWS)")
	fl.BoolVar(&opts.Force, "force", false, "restore into a volume with data, after copying it to a new volume")
	fl.StringVar(&opts.Image, "image", "", "image for a new container (default: the archive's)")
	fl.DurationVar(&opts.Timeout, "timeout", 2*time.Minute, "how long to wait for the container to be healthy")
	fl.String("volume", "", "named volume for /data")
	f.BindFlag("volume", fl.Lookup("volume"))
	shared.AddContainerFlag(f, cmd)
	return cmd
}

// badArchive is exit 2: the file is refused and nothing was written.
func badArchive(file string, err error) error {
	return &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("%s: %w", file, err), Hint: "nothing was written; take the backup again, or restore another file"}
}

func restoreRun(ctx context.Context, opts *Options) error {
	began := time.Now()
	l, err := opts.Config()
	if err != nil {
		return err
	}
	cfg := l.Config
	file := opts.File
	if loc, isS3, err := backup.ParseS3(file); isS3 {
		if err != nil {
			return cli.UsageError(err)
		}
		tmp, err := download(ctx, opts, loc)
		if err != nil {
			return err
		}
		defer os.Remove(tmp)
		file = tmp
	} else if file == "-" {
		tmp, err := spoolStdin(opts.IO.In)
		if err != nil {
			return cli.Fail(fmt.Errorf("read the archive from stdin: %w", err))
		}
		defer os.Remove(tmp)
		file = tmp
	}
	// 1. The whole archive, before anything else.
	p := opts.IO.StartProgress("verifying " + opts.File)
	m, err := verify(file)
	if err != nil {
		p.Fail("")
		if os.IsNotExist(err) {
			return cli.Usagef("%s: no such file", opts.File)
		}
		return badArchive(opts.File, err)
	}
	p.Done(fmt.Sprintf("%d members, checksums match", len(m.Members)))

	eng, err := container.Connect(ctx, opts.Engine)
	if err != nil {
		return err
	}
	defer eng.Close()
	cp, err := backup.Copier(eng)
	if err != nil {
		return cli.Fail(err)
	}
	// 2. What the restore goes into.
	old, err := eng.ContainerInspect(ctx, cfg.Container)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, engine.ErrNotFound):
		return shared.EngineError(err)
	case exists && !container.Managed(old.Labels):
		return cli.Failed(fmt.Errorf("container %q is %w", cfg.Container, container.ErrNotOurs), "choose another name with --container")
	case exists && old.Running:
		return cli.Failed(fmt.Errorf("container %q is running", cfg.Container), "stop it first with `nixify stop` (restore starts it again); nothing was written")
	}
	imageID, err := chooseImage(ctx, eng, opts, old, exists, m)
	if err != nil {
		return err
	}
	if err := checkMajor(ctx, eng, imageID, m); err != nil {
		return err
	}
	spec := container.Spec{Name: cfg.Container, ImageID: imageID, Volume: cfg.Volume, Bind: cfg.Bind, Port: cfg.Port,
		Publish: cfg.Publish, Env: cfg.Env, StopTimeout: container.DefaultStopTimeout, Version: version.Get().Version}
	if exists {
		for _, v := range old.Volumes {
			if v.Target == container.DataDir {
				spec.Volume = v.Volume
			}
		}
		spec.StopTimeout = container.StopTimeoutOf(old)
	}
	plan, err := container.Prepare(ctx, eng, spec)
	if err != nil {
		return shared.StartError(err)
	}
	id, err := plan.Apply(ctx, eng)
	if err != nil {
		return shared.StartError(err)
	}
	created := plan.Action == container.CreateNew
	undo := func() {
		if created {
			_ = eng.ContainerRemove(context.WithoutCancel(ctx), id)
		}
	}
	// 3. The volume must be empty, or its data moved aside first.
	entries, size, err := backup.Contents(ctx, cp, id, container.DataDir)
	if err != nil {
		undo()
		return shared.EngineError(err)
	}
	sum := Summary{Container: cfg.Container, Volume: spec.Volume, Services: m.Services, Secrets: m.Secrets}
	if entries > 0 {
		if !opts.Force {
			undo()
			return cli.Failed(fmt.Errorf("volume %s holds data (%d entries, %s)", spec.Volume, entries, iostreams.Bytes(size)),
				"restore into an empty volume (--volume NAME), or pass --force to copy that data to a new volume first; nothing was written")
		}
		aside, err := moveAside(ctx, opts.IO, eng, cp, id, spec, entries, size)
		if err != nil {
			return err
		}
		sum.MovedTo = aside
		if id, err = recreate(ctx, eng, spec); err != nil {
			return err
		}
		created = true
	}
	// 4. Files into the volume; the dump aside for after the start.
	dump, err := os.CreateTemp("", "nixify-restore-*.sql")
	if err != nil {
		undo()
		return cli.Fail(err)
	}
	defer os.Remove(dump.Name())
	defer dump.Close()
	pgOwner, err := backup.UserOf(ctx, cp, id, "postgres")
	if err != nil {
		return cli.Failed(err, "restore with an image of nixify's (--image); nothing was written")
	}
	p = opts.IO.StartProgress("writing into volume " + spec.Volume)
	if _, err := backup.WriteFiles(ctx, cp, id, container.DataDir, file, pgOwner, dump); err != nil {
		p.Fail("")
		return cli.Failed(fmt.Errorf("write into volume %s: %w", spec.Volume, err), "the archive changed since it was verified, or the engine refused: restore again with --force")
	}
	p.Done("")
	// 5. Start, wait until healthy.
	c, err := eng.ContainerInspect(ctx, id)
	if err != nil {
		return shared.EngineError(err)
	}
	exited, err := container.Start(ctx, eng, id, false, c.Ports)
	if err != nil {
		return shared.StartError(err)
	}
	sum.URL = shared.HealthURL(c, eng.Endpoint())
	p = opts.IO.StartProgress("waiting for " + c.Name + " to be healthy")
	if _, err := container.WaitReady(ctx, eng, id, sum.URL, exited, opts.Timeout, func(*health.Response, error) {}); err != nil {
		p.Fail("")
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var re *container.ReadyError
		if errors.As(err, &re) && !re.Exited {
			return &cli.ExitError{Code: cli.ExitUnhealthy, Err: err, Hint: "the files are restored; see `nixify logs`, then `nixify health --wait 2m`"}
		}
		return cli.Failed(err, "the files are restored; see `nixify logs`")
	}
	p.Done("")
	// 6. The PostgreSQL dump, into the server the image has.
	if st, _ := dump.Stat(); st != nil && st.Size() > 0 {
		p = opts.IO.StartProgress("loading the PostgreSQL dump")
		if _, err := dump.Seek(0, io.SeekStart); err != nil {
			return cli.Fail(err)
		}
		if _, err := backup.LoadDump(ctx, eng, c, dump); err != nil {
			p.Fail("")
			return cli.Failed(fmt.Errorf("postgres: %w", err), "the container runs with what loaded; see `nixify logs`")
		}
		sec, err := container.ReadSecrets(ctx, eng, c)
		if err == nil && sec.PGPassword != "" {
			err = backup.SetPassword(ctx, eng, c, sec.PGPassword)
		}
		if err != nil {
			p.Fail("")
			return cli.Failed(fmt.Errorf("postgres: set the password again: %w", err), "`nixify psql` still logs in; set it with ALTER ROLE")
		}
		p.Done("")
	}
	sum.Seconds = time.Since(began).Seconds()
	if opts.IO.WantsJSON() {
		return opts.IO.WriteJSON(sum)
	}
	st := opts.IO.Styles()
	if sum.MovedTo != "" {
		opts.IO.Printf("%s the volume's previous data is in volume %s\n", st.Accent.Render("→"), sum.MovedTo)
	}
	if !m.Secrets {
		opts.IO.Printf("%s no secrets in the archive: new passwords were made (`nixify env`)\n", st.Accent.Render("→"))
	}
	opts.IO.Printf("%s restored %s from %s (taken %s) in %.1fs, healthy\n", st.OK.Render("✓"),
		c.Name, opts.File, m.Created.UTC().Format("2006-01-02 15:04 UTC"), sum.Seconds)
	return nil
}

// checkMajor refuses a physical PostgreSQL backup for an image whose server is of another major
// version (it could not open the files), before anything is written: the image is asked.
func checkMajor(ctx context.Context, eng engine.Engine, imageID string, m backup.Manifest) error {
	pg, ok := m.PostgresPart()
	if !ok || !pg.Physical() {
		return nil
	}
	have, err := backup.ImagePostgres(ctx, eng, imageID)
	if err != nil {
		return cli.Failed(fmt.Errorf("which PostgreSQL the image runs: %w", err), "nothing was written")
	}
	if initenv.PGMajor(have) != initenv.PGMajor(pg.Version) {
		return cli.Failed(fmt.Errorf("the archive holds a physical backup of PostgreSQL %s, and the image's server is PostgreSQL %s, which cannot open it", pg.Version, have),
			"restore it with an image of PostgreSQL "+initenv.PGMajor(pg.Version)+", take `nixify backup --logical FILE` there, and restore that here; nothing was written")
	}
	return nil
}

func verify(file string) (backup.Manifest, error) { return backup.VerifyFile(file) }

// spoolStdin copies stdin to a private temporary file: the archive is read twice (verified, then
// restored).
func spoolStdin(in io.Reader) (string, error) {
	f, err := os.CreateTemp("", "nixify-restore-*.nxb")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, in); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), f.Close()
}

// download copies the archive from S3 to a private temporary file.
func download(ctx context.Context, opts *Options, loc backup.S3Location) (string, error) {
	client, err := backup.NewS3(ctx, opts.S3Endpoint, 2*time.Minute)
	if err != nil {
		return "", cli.UsageError(err)
	}
	f, err := os.CreateTemp("", "nixify-restore-*.nxb")
	if err != nil {
		return "", cli.Fail(err)
	}
	p := opts.IO.StartProgress("downloading " + loc.String())
	err = client.Download(ctx, loc, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		p.Fail("")
		if errors.Is(err, backup.ErrStalled) {
			return "", cli.Unavailable(err, "the S3 endpoint stopped answering; nothing was written")
		}
		return "", cli.Failed(err, "check the bucket, the key, --s3-endpoint and the AWS credentials; nothing was written")
	}
	p.Done("")
	return f.Name(), nil
}

// chooseImage is --image, else the existing container's image, else the archive's when the engine
// holds it.
func chooseImage(ctx context.Context, eng engine.Engine, opts *Options, old engine.Container, exists bool, m backup.Manifest) (string, error) {
	ref := opts.Image
	switch {
	case ref != "":
	case exists:
		return old.Image, nil
	default:
		ref = m.ImageID
	}
	img, err := eng.ImageInspect(ctx, ref)
	if errors.Is(err, engine.ErrNotFound) {
		return "", cli.Failed(fmt.Errorf("the engine holds no image %s", ref), "load the image (nixify run once), or name one with --image; nothing was written")
	}
	if err != nil {
		return "", shared.EngineError(err)
	}
	return img.ID, nil
}

// moveAside copies what the volume holds into a new volume and checks the copy holds as many
// entries and bytes; only then does it remove the container and the volume.
func moveAside(ctx context.Context, ios *iostreams.IOStreams, eng engine.Engine, cp engine.Copier, id string, spec container.Spec, entries int, size int64) (string, error) {
	aside := spec.Volume + "-before-restore-" + time.Now().UTC().Format("20060102T150405Z")
	p := ios.StartProgress(fmt.Sprintf("copying the volume's data (%s) to %s", iostreams.Bytes(size), aside))
	fail := func(err error) (string, error) {
		p.Fail("")
		return "", cli.Failed(fmt.Errorf("move the data of volume %s aside: %w", spec.Volume, err), "nothing was removed; volume "+aside+" may hold a partial copy")
	}
	// Not labelled as nixify's: `nixify clean` must not remove it.
	if err := eng.VolumeCreate(ctx, aside, map[string]string{"io.nixify.restore.before": spec.Volume}); err != nil {
		return fail(err)
	}
	helper, err := eng.ContainerCreate(ctx, engine.ContainerSpec{Name: aside + "-copy", Image: spec.ImageID,
		Labels:  map[string]string{container.LabelManaged: "true"},
		Volumes: []engine.VolumeMount{{Volume: aside, Target: container.DataDir}}})
	if err != nil {
		return fail(err)
	}
	defer eng.ContainerRemove(context.WithoutCancel(ctx), helper)
	rc, err := cp.CopyFrom(ctx, id, container.DataDir)
	if err != nil {
		return fail(err)
	}
	err = cp.CopyTo(ctx, helper, "/", rc)
	rc.Close()
	if err != nil {
		return fail(err)
	}
	n, sz, err := backup.Contents(ctx, cp, helper, container.DataDir)
	if err != nil {
		return fail(err)
	}
	if n != entries || sz != size {
		return fail(fmt.Errorf("the copy holds %d entries, %d bytes; the volume %d, %d", n, sz, entries, size))
	}
	if err := eng.ContainerRemove(ctx, id); err != nil {
		return fail(err)
	}
	if err := eng.VolumeRemove(ctx, spec.Volume); err != nil {
		return fail(fmt.Errorf("%w (another container uses it?)", err))
	}
	p.Done("")
	return aside, nil
}

// recreate makes the container again on a new, empty volume of the same name.
func recreate(ctx context.Context, eng engine.Engine, spec container.Spec) (string, error) {
	plan, err := container.Prepare(ctx, eng, spec)
	if err != nil {
		return "", shared.StartError(err)
	}
	id, err := plan.Apply(ctx, eng)
	if err != nil {
		return "", shared.StartError(err)
	}
	return id, nil
}
