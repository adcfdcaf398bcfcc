// Package testimage assembles the images nixify's end-to-end tests run, because the Nix-built image
// cannot be built on the test machines. With go-containerregistry it writes docker-archives holding
// the static nixify-init and, for the full image, Debian's PostgreSQL and Redis with the shared
// libraries, data files and passwd entries they need (found with ldd), plus busybox as /bin/sh for
// initdb. The result behaves like the real image for run, health, logs, stop and clean.
package testimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Entry is one thing in the image: a host file or directory copied (From), a symlink (Link) or
// generated content (Data).
type Entry struct {
	Path string // absolute path in the image
	From string
	Link string
	Data []byte
	Dir  bool
	Mode fs.FileMode
}

// Spec describes an image.
type Spec struct {
	Tag         string // name:tag the archive carries
	Arch        string // GOARCH: amd64 or arm64
	Entries     []Entry
	Env         []string
	Entrypoint  []string
	Healthcheck []string // CMD form, without the "CMD" word; empty for none
	Labels      map[string]string
}

// Write assembles the image and writes it as a docker-archive at path. It returns the image's
// config digest, which is the engine's image ID after loading.
func Write(s Spec, path string) (string, error) {
	layer, err := buildLayer(s.Entries)
	if err != nil {
		return "", err
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer)), nil },
		tarball.WithCompressionLevel(gzip.BestSpeed))
	if err != nil {
		return "", err
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", s.Arch
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.Env = s.Env
	cf.Config.Entrypoint = s.Entrypoint
	cf.Config.Labels = s.Labels
	cf.Config.StopSignal = "SIGTERM"
	if len(s.Healthcheck) > 0 {
		cf.Config.Healthcheck = &v1.HealthConfig{Test: append([]string{"CMD"}, s.Healthcheck...),
			Interval: 2 * time.Second, Timeout: 3 * time.Second, Retries: 3, StartPeriod: 30 * time.Second}
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return "", err
	}
	tag, err := name.NewTag(s.Tag)
	if err != nil {
		return "", err
	}
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	d, err := img.ConfigName()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

func buildLayer(entries []Entry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	var addDirs func(p string) error
	addDirs = func(p string) error {
		if p == "/" || p == "." || seen[p] {
			return nil
		}
		if err := addDirs(filepath.Dir(p)); err != nil {
			return err
		}
		seen[p] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(p, "/") + "/", Mode: 0o755})
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	for _, e := range entries {
		if seen[e.Path] {
			continue
		}
		if err := addDirs(filepath.Dir(e.Path)); err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(e.Path, "/")
		switch {
		case e.Dir:
			mode := e.Mode
			if mode == 0 {
				mode = 0o755
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: int64(mode)}); err != nil {
				return nil, err
			}
		case e.Link != "":
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: e.Link, Mode: 0o777}); err != nil {
				return nil, err
			}
		case e.Data != nil:
			mode := e.Mode
			if mode == 0 {
				mode = 0o644
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(mode), Size: int64(len(e.Data))}); err != nil {
				return nil, err
			}
			tw.Write(e.Data)
		default:
			data, err := os.ReadFile(e.From)
			if err != nil {
				return nil, err
			}
			fi, err := os.Stat(e.From)
			if err != nil {
				return nil, err
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(fi.Mode().Perm()), Size: int64(len(data))}); err != nil {
				return nil, err
			}
			tw.Write(data)
		}
		seen[e.Path] = true
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Tree copies a host directory recursively to the same place in the image.
func Tree(dir string) ([]Entry, error) {
	var out []Entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			out = append(out, Entry{Path: p, Dir: true})
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out = append(out, Entry{Path: p, Link: target})
		case d.Type().IsRegular():
			out = append(out, Entry{Path: p, From: p})
		}
		return nil
	})
	return out, err
}

// WithLibraries returns the binaries at their own paths plus every shared library ldd lists for
// them (at the path ldd names, with the symlinked name as well as the real file).
func WithLibraries(binaries ...string) ([]Entry, error) {
	var out []Entry
	libs := map[string]bool{}
	for _, b := range binaries {
		out = append(out, Entry{Path: b, From: b})
		ldd, err := exec.Command("ldd", b).Output()
		if err != nil {
			return nil, fmt.Errorf("ldd %s: %w", b, err)
		}
		for _, line := range strings.Split(string(ldd), "\n") {
			fields := strings.Fields(line)
			for _, f := range fields {
				if strings.HasPrefix(f, "/") {
					libs[f] = true
				}
			}
		}
	}
	for lib := range libs {
		real, err := filepath.EvalSymlinks(lib)
		if err != nil {
			return nil, err
		}
		out = append(out, Entry{Path: real, From: real})
		if real != lib {
			if filepath.Dir(real) == filepath.Dir(lib) {
				out = append(out, Entry{Path: lib, Link: filepath.Base(real)})
			} else {
				out = append(out, Entry{Path: lib, Link: real})
			}
		}
	}
	return out, nil
}

// BuildInit compiles the static nixify-init for goarch into dir and returns its path. moduleDir is
// the repository root.
func BuildInit(moduleDir, goarch, dir string) (string, error) {
	return BuildStatic(moduleDir, "./cmd/nixify-init", goarch, filepath.Join(dir, "nixify-init-"+goarch))
}

// BuildStatic compiles a Go main package statically (CGO off) for goarch.
func BuildStatic(moduleDir, pkg, goarch, out string) (string, error) {
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s for %s: %v: %s", pkg, goarch, err, b)
	}
	return out, nil
}

// Users is /etc/passwd and /etc/group with root and the services' users.
func Users() []Entry {
	passwd := "root:x:0:0:root:/root:/bin/sh\npostgres:x:70:70:PostgreSQL:/var/empty:/bin/false\n" +
		"redis:x:71:71:Redis:/var/empty:/bin/false\ngarage:x:72:72:Garage:/var/empty:/bin/false\nnobody:x:65534:65534:nobody:/var/empty:/bin/false\n"
	group := "root:x:0:\npostgres:x:70:\nredis:x:71:\ngarage:x:72:\nnogroup:x:65534:\n"
	return []Entry{
		{Path: "/etc/passwd", Data: []byte(passwd)},
		{Path: "/etc/group", Data: []byte(group)},
		{Path: "/tmp", Dir: true, Mode: 0o1777},
		{Path: "/run", Dir: true},
		{Path: "/var/empty", Dir: true},
	}
}
