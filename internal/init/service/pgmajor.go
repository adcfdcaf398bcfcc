package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nixify/nixify/internal/initenv"
)

// ExitOtherMajor is the init's exit code when /data/postgres holds a cluster of another
// PostgreSQL major version than the image's server (README, "nixify-init exit codes").
const ExitOtherMajor = 4

// checkPostgresMajor refuses a data directory written by another PostgreSQL major version, before
// any service starts: the server would refuse it too, but only after the init had started the
// health server and Redis, and then as a failing service restarted until the limit, its reason
// buried in PostgreSQL's log.
//
// The image's major comes from the server binary itself (`postgres --version`, answered before
// PostgreSQL's own refusal to run as root): it is the program that will open the directory, so it
// cannot disagree with it, and an image needs no value recorded at build time that could drift
// from the binary on PATH.
func checkPostgresMajor(ctx context.Context, c initenv.Config) error {
	if !c.Enabled(initenv.Postgres) {
		return nil
	}
	dir := filepath.Join(c.DataDir, "postgres")
	b, err := os.ReadFile(filepath.Join(dir, "PG_VERSION"))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil // no cluster yet: initdb makes one of the image's version
	}
	if err != nil {
		return &ExitError{Code: ExitRefused, Err: fmt.Errorf("read %s/PG_VERSION: %w", dir, unwrapPath(err))}
	}
	data := strings.TrimSpace(string(b))
	server, err := program("postgres")
	if err != nil {
		return refused(err)
	}
	version, err := serverVersion(ctx, server)
	if err != nil {
		return refused(err)
	}
	if initenv.PGMajor(version) == data {
		return nil
	}
	return &ExitError{Code: ExitOtherMajor, Err: fmt.Errorf("%s holds a PostgreSQL %s cluster (its PG_VERSION) and this image's server is PostgreSQL %s, "+
		"which cannot open it: start the image that wrote it, take `nixify backup --logical FILE`, then `nixify restore --force FILE` with this image",
		dir, data, version)}
}

// serverVersion asks the server binary for its version ("15.14" of
// "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)").
func serverVersion(ctx context.Context, server string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, server, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", server, err)
	}
	_, after, ok := strings.Cut(string(out), "(PostgreSQL) ")
	if f := strings.Fields(after); ok && len(f) > 0 {
		return f[0], nil
	}
	return "", fmt.Errorf("%s --version answered %q, not a PostgreSQL version", server, strings.TrimSpace(string(out)))
}
