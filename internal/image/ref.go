package image

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/nixify/nixify/internal/record"
)

// Ref is what a user's argument (or a recorded build) names: decided once, here, for every
// command that takes an image.
type Ref struct {
	Kind  Kind
	Name  string        // a path, a registry reference or an engine name or ID
	Build *record.Build // for FromBuild

	ref name.Reference // parsed once, for FromRegistry and FromEngine (nil for an image ID)
}

func (r Ref) String() string { return r.Name }

// Reference is the registry or engine reference Parse read (parsed again only for a Ref made in
// code).
func (r Ref) Reference() (name.Reference, error) {
	if r.ref != nil {
		return r.ref, nil
	}
	ref, err := name.ParseReference(r.Name)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrBadReference, r.Name, err)
	}
	return ref, nil
}

var (
	// ErrNoSuchFile means the argument looks like a file (a path, or a name ending in .tar, .tar.gz
	// ...) that does not exist: a typo, not a registry or engine name.
	ErrNoSuchFile = errors.New("no such file")
	// ErrBadReference means the argument is neither a file nor a valid image reference.
	ErrBadReference = errors.New("invalid image reference")
)

// archiveSuffixes are names people give image archives; a missing file so named is reported as a
// missing file, not looked up in a registry or the engine.
var archiveSuffixes = []string{".tar", ".tar.gz", ".tgz", ".tar.zst", ".tzst", ".gz", ".zst"}

// Parse says what arg names: an existing file (a docker-archive), a registry image or index (its
// first part is a host), or an image in the Docker engine (a name or ID). A file is read as data,
// never run: an executable starting with #! is refused unless it is a stream script that one of
// builds (the build record) names inside the Nix store, and then it is run by its resolved path.
func Parse(arg string, builds ...record.Build) (Ref, error) {
	if arg == "" {
		return Ref{}, fmt.Errorf("%w: empty", ErrBadReference)
	}
	st, err := os.Stat(arg)
	switch {
	case err == nil && st.IsDir():
		return Ref{}, fmt.Errorf("%s is a directory, not an image: name a docker-archive (buildLayeredImage) or a stream script (streamLayeredImage)", arg)
	case err == nil && isScript(arg):
		p, err := recordedScript(arg, builds)
		if err != nil {
			return Ref{}, err
		}
		return Ref{Kind: FromStream, Name: p}, nil
	case err == nil:
		return Ref{Kind: FromArchive, Name: arg}, nil
	case !errors.Is(err, fs.ErrNotExist):
		return Ref{}, fmt.Errorf("%s: %w", arg, err)
	case looksLikePath(arg):
		return Ref{}, fmt.Errorf("%s: %w", arg, ErrNoSuchFile)
	}
	if looksRemote(arg) {
		r, err := name.ParseReference(arg)
		if err != nil {
			return Ref{}, fmt.Errorf("%w %q: %v", ErrBadReference, arg, err)
		}
		return Ref{Kind: FromRegistry, Name: arg, ref: r}, nil
	}
	for _, s := range archiveSuffixes {
		if strings.HasSuffix(strings.ToLower(arg), s) {
			return Ref{}, fmt.Errorf("%s: %w", arg, ErrNoSuchFile)
		}
	}
	r, err := name.ParseReference(arg)
	if err != nil && !isImageID(arg) {
		return Ref{}, fmt.Errorf("%w %q: not a file, and not an image name (registry references need a host, e.g. ghcr.io/owner/name:tag)", ErrBadReference, arg)
	}
	return Ref{Kind: FromEngine, Name: arg, ref: r}, nil
}

// ErrRefused means nixify will not use a file as an image: it would have to run it (a script
// nixify's own build did not make) or hand an engine a bomb (a sparse file).
var ErrRefused = errors.New("refused")

// StoreDir is the Nix store: the only place a stream script may be run from.
const StoreDir = "/nix/store/"

// recordedScript returns the script's resolved path when it is a stream script a recorded build
// names in the Nix store, and refuses it otherwise.
func recordedScript(arg string, builds []record.Build) (string, error) {
	p, err := storeScript(arg)
	if err == nil {
		for _, b := range builds {
			if q, err := filepath.EvalSymlinks(b.OutPath); err == nil && q == p {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s is an executable, not an image archive: %w (nixify runs only the stream script its last build recorded in %s; give a docker-archive)", arg, ErrRefused, StoreDir)
}

// storeScript resolves p and requires it to lie in the Nix store.
func storeScript(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(abs, StoreDir) {
		return "", fmt.Errorf("stream script %s is outside the Nix store (%s): %w", p, StoreDir, ErrRefused)
	}
	return abs, nil
}

// BuildRef names the image a recorded build produced.
func BuildRef(b record.Build) Ref {
	return Ref{Kind: FromBuild, Name: b.OutPath, Build: &b}
}

// looksLikePath is true for what can only be a path: absolute, relative with ./ or ../, or ~.
func looksLikePath(s string) bool {
	return filepath.IsAbs(s) || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || strings.HasPrefix(s, "~")
}

func isImageID(s string) bool {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) < 12 || len(s) > 64 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}

// isScript tells a streamLayeredImage script (an executable file starting with #!) from an archive.
func isScript(p string) bool {
	st, err := os.Stat(p)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return false
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 2)
	n, _ := f.Read(head)
	return bytes.Equal(head[:n], []byte("#!"))
}

// looksRemote reports whether ref names a registry (its first part is a host: it has a dot or a
// port, or is localhost), as opposed to a name the Docker engine holds.
func looksRemote(ref string) bool {
	first, _, ok := strings.Cut(ref, "/")
	if !ok {
		return false
	}
	return strings.ContainsAny(first, ".:") || first == "localhost"
}
