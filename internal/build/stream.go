package build

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"

	"github.com/nixify/nixify/internal/image"
)

// readStream runs a streamLayeredImage script and reads the docker-archive it writes through the
// archive scanner, without writing the archive anywhere.
func readStream(ctx context.Context, script string) (*image.Archive, error) {
	cmd := exec.CommandContext(ctx, script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run stream script %s: %w", script, err)
	}
	a, readErr := image.ReadArchive(out)
	_, _ = io.Copy(io.Discard, out) // let the script finish writing
	waitErr := cmd.Wait()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if waitErr != nil {
		return nil, fmt.Errorf("stream script %s failed: %v: %s", script, waitErr, strings.TrimSpace(stderr.String()))
	}
	if readErr != nil {
		return nil, readErr
	}
	return a, nil
}
