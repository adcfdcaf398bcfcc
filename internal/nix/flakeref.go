package nix

import (
	"os"
	"path/filepath"
	"strings"
)

// LocalFlakeDir is the directory of a flake reference that names a local path ("." , "./x",
// "/abs", "path:...", "git+file://..."), relative ones taken from workDir (the working directory
// when empty); ok is false for any other reference (github:, git+https:, a registry name).
func LocalFlakeDir(ref, workDir string) (dir string, ok bool) {
	ref, _, _ = strings.Cut(ref, "?")
	ref, _, _ = strings.Cut(ref, "#")
	switch {
	case strings.HasPrefix(ref, "path:"):
		ref = strings.TrimPrefix(ref, "path:")
	case strings.HasPrefix(ref, "git+file://"):
		ref = strings.TrimPrefix(ref, "git+file://")
	case strings.Contains(ref, ":"):
		return "", false // github:, git+https:, a registry name with a scheme...
	case !strings.HasPrefix(ref, ".") && !strings.HasPrefix(ref, "/"):
		return "", false // a flake registry name such as nixpkgs
	}
	if !filepath.IsAbs(ref) {
		if workDir == "" {
			workDir, _ = os.Getwd()
		}
		ref = filepath.Join(workDir, ref)
	}
	return ref, true
}
