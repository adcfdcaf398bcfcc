package service

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Secrets are the credentials the services use: given in the environment, or generated on first
// boot and kept 0600 in DataDir/secrets so every later boot reuses them.
type Secrets struct {
	PGPassword   string
	AccessKey    string
	SecretKey    string
	AdminToken   string
	MetricsToken string
	RPCSecret    string
}

// SecretsDir is where generated secrets live under the data root (root only, 0700).
func (c Config) SecretsDir() string { return filepath.Join(c.DataDir, "secrets") }

// LoadSecrets returns the secrets, generating and storing the missing ones. Only the secrets of
// enabled services are generated.
func LoadSecrets(c Config) (Secrets, error) {
	dir := c.SecretsDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Secrets{}, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return Secrets{}, err
	}
	var s Secrets
	var err error
	keep := func(dst *string, given, file string, gen func() string) {
		if err != nil {
			return
		}
		if given != "" {
			*dst = given
			return
		}
		*dst, err = stored(filepath.Join(dir, file), gen)
	}
	if c.Enabled("postgres") {
		keep(&s.PGPassword, c.PGPassword, "postgres-password", func() string { return randomHex(24) })
	}
	if c.Enabled("garage") {
		if c.AccessKey != "" {
			s.AccessKey, s.SecretKey = c.AccessKey, c.SecretKey
		} else {
			keep(&s.AccessKey, "", "garage-access-key", func() string { return "GK" + randomHex(12) })
			keep(&s.SecretKey, "", "garage-secret-key", func() string { return randomHex(32) })
		}
		keep(&s.AdminToken, c.AdminToken, "garage-admin-token", func() string { return randomHex(32) })
		keep(&s.MetricsToken, "", "garage-metrics-token", func() string { return randomHex(32) })
		keep(&s.RPCSecret, "", "garage-rpc-secret", func() string { return randomHex(32) })
	}
	return s, err
}

// stored reads a secret file, or creates it with a fresh value. The value is written to a
// temporary file and renamed, so an interrupted first boot never leaves an empty secret behind.
func stored(path string, gen func() string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		os.Chmod(path, 0o600)
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read secret %s: %w", path, err)
	}
	v := gen()
	if err := writeAtomic(path, []byte(v+"\n"), 0o600, -1, -1); err != nil {
		return "", fmt.Errorf("store secret %s: %w", path, err)
	}
	return v, nil
}

// writeAtomic writes a file through a temporary name and rename, with its mode and (when uid is
// not -1) its owner set before it becomes visible.
func writeAtomic(path string, data []byte, mode os.FileMode, uid, gid int) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if uid >= 0 {
		if err := tmp.Chown(uid, gid); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // the kernel's random source does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// Getenv wraps getenv so the generated secrets are visible under their usual names (for the
// health server) where the environment does not set them.
func (s Secrets) Getenv(getenv func(string) string) func(string) string {
	generated := map[string]string{
		"POSTGRES_PASSWORD":  s.PGPassword,
		"GARAGE_ACCESS_KEY":  s.AccessKey,
		"GARAGE_SECRET_KEY":  s.SecretKey,
		"GARAGE_ADMIN_TOKEN": s.AdminToken,
	}
	return func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return generated[k]
	}
}
