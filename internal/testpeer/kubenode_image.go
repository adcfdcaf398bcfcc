package testpeer

import (
	"os"
	"path/filepath"
	"runtime"

	"github.com/nixify/nixify/e2e/testimage"
)

// kubePauseImage is the sandbox image the test node's containerd runs for every Pod.
const kubePauseImage = "nixify.test/pause:1"

// writePauseImage builds internal/testpeer/pause statically and writes it as a one-file image
// (docker-archive) at path, tagged kubePauseImage.
func writePauseImage(dir string) (string, error) {
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(self), "..", "..")
	bin, err := testimage.BuildStatic(root, "./internal/testpeer/pause", runtime.GOARCH, filepath.Join(dir, "pause"))
	if err != nil {
		return "", err
	}
	archive := filepath.Join(dir, "pause.tar")
	_, err = testimage.Write(testimage.Spec{Tag: kubePauseImage, Arch: runtime.GOARCH,
		Entries:    []testimage.Entry{{Path: "/pause", From: bin, Mode: 0o755}},
		Entrypoint: []string{"/pause"}}, archive)
	if err != nil {
		os.Remove(archive)
	}
	return archive, err
}
