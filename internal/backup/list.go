package backup

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/zstd"
	"github.com/nixify/nixify/internal/iostreams"
)

// ReadManifest reads only an archive's manifest (its first member), for listing; it checks
// nothing else.
func ReadManifest(r io.Reader) (Manifest, error) {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30), zstd.WithDecoderMaxWindow(64<<20))
	if err != nil {
		return Manifest{}, err
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	h, err := tr.Next()
	if err != nil || h.Name != ManifestName || h.Size > maxManifest {
		return Manifest{}, fmt.Errorf("%w: not a nixify backup", ErrCorrupt)
	}
	var m Manifest
	if err := json.NewDecoder(io.LimitReader(tr, maxManifest)).Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("%w: manifest: %v", ErrCorrupt, err)
	}
	return m, nil
}

// Listed is one backup found by List.
type Listed struct {
	Name     string    `json:"name"` // file path or s3:// URL
	Bytes    int64     `json:"bytes"`
	Created  time.Time `json:"created"`
	Image    string    `json:"image,omitempty"`
	ImageID  string    `json:"imageId"`
	Nixify   string    `json:"nixify"`
	Format   int       `json:"format"`
	Services []string  `json:"services"`
	Secrets  bool      `json:"secrets"`
}

func listed(name string, size int64, m Manifest) Listed {
	l := Listed{Name: name, Bytes: size, Created: m.Created, Image: m.Image, ImageID: m.ImageID, Nixify: m.Nixify, Format: m.Format, Secrets: m.Secrets, Services: []string{}}
	for _, s := range m.Services {
		v := s.Name
		if f := strings.Fields(s.Version); len(f) > 0 {
			v += " " + f[0]
		}
		l.Services = append(l.Services, v)
	}
	return l
}

// ListDir lists the backups among the regular files of dir (not below it), newest first; files
// that are not backups are counted in skipped.
func ListDir(dir string) (out []Listed, skipped int, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.Open(p)
		if err != nil {
			skipped++
			continue
		}
		m, err := ReadManifest(f)
		st, _ := f.Stat()
		f.Close()
		if err != nil || st == nil {
			skipped++
			continue
		}
		out = append(out, listed(p, st.Size(), m))
	}
	sortListed(out)
	return out, skipped, nil
}

// List lists the backups under an S3 prefix (the objects whose manifest reads), newest first.
func (s *S3) List(ctx context.Context, bucket, prefix string) (out []Listed, skipped int, err error) {
	ctx, w := watch(ctx, s.stall)
	defer w.stop()
	p := s3.NewListObjectsV2Paginator(s.c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, 0, w.err(S3Location{bucket, prefix}, err)
		}
		w.kick()
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			obj, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				return nil, 0, w.err(S3Location{bucket, key}, err)
			}
			m, err := ReadManifest(w.reader(obj.Body))
			obj.Body.Close()
			if err != nil {
				skipped++
				continue
			}
			out = append(out, listed(S3Location{bucket, key}.String(), aws.ToInt64(o.Size), m))
		}
	}
	sortListed(out)
	return out, skipped, nil
}

func sortListed(l []Listed) {
	sort.SliceStable(l, func(i, j int) bool { return l[i].Created.After(l[j].Created) })
}

// PrintList shows the backups as a table (JSON with -o json).
func PrintList(ios *iostreams.IOStreams, l []Listed, skipped int) error {
	if ios.WantsJSON() {
		if l == nil {
			l = []Listed{}
		}
		return ios.WriteJSON(l)
	}
	t := ios.NewTable("TAKEN", "SIZE", "IMAGE", "SERVICES", "BACKUP")
	for _, b := range l {
		img := b.Image
		if img == "" && len(b.ImageID) > 19 {
			img = b.ImageID[7:19]
		}
		svc := strings.Join(b.Services, ", ")
		if b.Secrets {
			svc += ", secrets"
		}
		t.Row(b.Created.UTC().Format("2006-01-02 15:04"), iostreams.Bytes(b.Bytes), img, svc, b.Name)
	}
	if len(l) > 0 {
		t.Render()
	} else {
		ios.Printf("no backups\n")
	}
	if skipped > 0 {
		ios.Errorf("(%s not a nixify backup)\n", iostreams.Count(skipped, "other file is", "other files are"))
	}
	return nil
}

// ListAt lists the backups in a directory or under s3://BUCKET[/PREFIX] (endpoint as for NewS3).
func ListAt(ctx context.Context, where, endpoint string) ([]Listed, int, error) {
	rest, isS3 := strings.CutPrefix(where, "s3://")
	if !isS3 {
		return ListDir(where)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if bucket == "" {
		return nil, 0, fmt.Errorf("invalid %q: accepted: s3://BUCKET[/PREFIX]", where)
	}
	c, err := NewS3(ctx, endpoint, 2*time.Minute)
	if err != nil {
		return nil, 0, err
	}
	return c.List(ctx, bucket, prefix)
}
