package service

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nixify/nixify/internal/initenv"
)

// Secrets are the credentials the services use: given in the environment, or generated on first
// boot and kept 0600 in DataDir/secrets so every later boot reuses them.
type Secrets struct {
	PGPassword    string
	RedisPassword string
	AccessKey     string
	SecretKey     string
	AdminToken    string
	MetricsToken  string
	RPCSecret     string
}

// The files in DataDir/secrets, one value each followed by a newline. Their names are a contract:
// `nixify env` reads them from the container, and README's image-environment section lists them.
const (
	PostgresPasswordFile = "postgres-password"
	RedisPasswordFile    = "redis-password"
	GarageAccessKeyFile  = "garage-access-key"
	GarageSecretKeyFile  = "garage-secret-key"
	GarageAdminTokenFile = "garage-admin-token"
	garageMetricsFile    = "garage-metrics-token"
	garageRPCFile        = "garage-rpc-secret"
)

// secretsDir is where generated secrets live under the data root (root only, 0700).
func secretsDir(c initenv.Config) string { return filepath.Join(c.DataDir, "secrets") }

// LoadSecrets returns the secrets, generating and storing the missing ones; given ones are stored
// too, so each file holds the value in effect. Only the secrets of enabled services are kept.
func LoadSecrets(c initenv.Config) (Secrets, error) {
	dir := secretsDir(c)
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
			// Stored too, so that the file always holds the value in effect (what `nixify env`
			// reads), whether it was generated or given.
			*dst, err = given, writeSecret(filepath.Join(dir, file), given)
			return
		}
		*dst, err = stored(filepath.Join(dir, file), gen)
	}
	if c.Enabled(initenv.Postgres) {
		keep(&s.PGPassword, c.PGPassword, PostgresPasswordFile, rand.Text)
	}
	if c.Enabled(initenv.Redis) {
		keep(&s.RedisPassword, c.RedisPassword, RedisPasswordFile, rand.Text)
	}
	if c.Enabled(initenv.Garage) {
		// Garage fixes the formats of its keys (GK and 24 hex digits, a secret of 64) and of the
		// RPC secret (32 bytes in hex); its tokens, like the passwords, are any text.
		keep(&s.AccessKey, c.AccessKey, GarageAccessKeyFile, func() string { return "GK" + randomHex(12) })
		keep(&s.SecretKey, c.SecretKey, GarageSecretKeyFile, func() string { return randomHex(32) })
		keep(&s.AdminToken, c.AdminToken, GarageAdminTokenFile, rand.Text)
		keep(&s.MetricsToken, "", garageMetricsFile, rand.Text)
		keep(&s.RPCSecret, "", garageRPCFile, func() string { return randomHex(32) })
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
	if err := writeSecret(path, v); err != nil {
		return "", err
	}
	return v, nil
}

// writeSecret stores a secret as one line, so that it survives a crash: through a temporary name,
// synced, then renamed, mode 0600 before it becomes visible.
func writeSecret(path, v string) error {
	if err := writeFile(path, []byte(v+"\n"), -1, -1, true); err != nil {
		return fmt.Errorf("store secret %s: %w", path, err)
	}
	return nil
}

// writeGenerated writes a configuration file (0600, owned by uid:gid) the init generates on every
// boot before the service starts. Atomic like writeSecret, but not synced: one lost in a crash is
// written again on the next boot, and three fsyncs per boot cost hundreds of milliseconds on a
// busy disk.
func writeGenerated(path string, data []byte, uid, gid int) error {
	return writeFile(path, data, uid, gid, false)
}

// writeFile replaces path with data, mode 0600 and (when uid is not -1) owned by uid:gid.
func writeFile(path string, data []byte, uid, gid int, sync bool) error {
	if same(path, data, uid, gid) {
		return nil // nothing to write: a boot on a full disk does not fail here
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	write := func() error {
		if _, err := tmp.Write(data); err != nil {
			return err
		}
		if err := tmp.Chmod(0o600); err != nil {
			return err
		}
		if uid >= 0 {
			if err := tmp.Chown(uid, gid); err != nil {
				return err
			}
		}
		if sync {
			return tmp.Sync()
		}
		return nil
	}
	if err := cmp.Or(write(), tmp.Close()); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// same reports whether path already holds data, mode 0600 and (when uid is not -1) owner.
func same(path string, data []byte, uid, gid int) bool {
	st, err := os.Lstat(path)
	if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o600 || st.Size() != int64(len(data)) {
		return false
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || uid >= 0 && (int(sys.Uid) != uid || int(sys.Gid) != gid) {
		return false
	}
	b, err := os.ReadFile(path)
	return err == nil && bytes.Equal(b, data)
}

// randomHex is n random bytes in hex: the init's one generator of the hex that Garage's formats
// require (everything else takes crypto/rand.Text).
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // the kernel's random source does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// Fill returns c with the secrets in place of the ones it left empty, so that everything derived
// from it (the health server's checks above all) uses the credentials the services were given.
func (s Secrets) Fill(c initenv.Config) initenv.Config {
	c.PGPassword, c.RedisPassword = s.PGPassword, s.RedisPassword
	c.AccessKey, c.SecretKey, c.AdminToken = s.AccessKey, s.SecretKey, s.AdminToken
	return c
}

// values lists the secrets that are set, for the log to redact.
func (s Secrets) values() []string {
	var out []string
	for _, v := range []string{s.PGPassword, s.RedisPassword, s.SecretKey, s.AdminToken, s.MetricsToken, s.RPCSecret} {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
