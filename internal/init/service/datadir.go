// Package service defines the container's services (PostgreSQL, Redis, Garage) as data for the
// supervisor: who runs them, where their data lives, their first-boot steps, commands, readiness
// probes and stop rules, configured from package initenv's Config. It also keeps the secrets
// generated on first boot.
package service

import (
	"fmt"
	"os"

	"github.com/nixify/nixify/internal/initenv"
)

// checkDataRoot makes sure the data root exists (creating it if needed) and can be written, before
// anything else is created in it.
func checkDataRoot(c initenv.Config) error {
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return fmt.Errorf("NIXIFY_DATA_DIR=%s cannot be created: %w", c.DataDir, unwrapPath(err))
	}
	f, err := os.CreateTemp(c.DataDir, ".nixify-write-test-*")
	if err != nil {
		return fmt.Errorf("NIXIFY_DATA_DIR=%s is not writable: %w", c.DataDir, unwrapPath(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// unwrapPath drops the path from an *os.PathError, which the message already names.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
