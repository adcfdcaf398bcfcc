package doctor

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/nixify/nixify/internal/iostreams"
)

// checkCredentials looks for credentials for the configured registry without printing them.
func checkCredentials(o Options) Check {
	c := Check{Name: "registry credentials"}
	if o.Repo == "" {
		c.Status, c.Detail = Skip, "no repository configured (set repo, e.g. ghcr.io/OWNER/nixify-health-check)"
		return c
	}
	repo, err := name.NewRepository(o.Repo)
	if err != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("repository %q is not valid: %v", o.Repo, err)
		return c
	}
	reg := repo.RegistryStr()
	if reg == "ghcr.io" && o.Getenv("GITHUB_TOKEN") != "" {
		c.Status, c.Detail = OK, "ghcr.io: GITHUB_TOKEN is set"
		return c
	}
	a, err := authn.DefaultKeychain.Resolve(repo.Registry)
	if err != nil {
		c.Status, c.Detail = Warn, fmt.Sprintf("%s: docker credentials could not be read: %v", reg, err)
		c.Fix = "check ~/.docker/config.json and its credential helper"
		return c
	}
	if a == authn.Anonymous {
		c.Status, c.Detail = Warn, reg+": no credentials found (GITHUB_TOKEN, docker config, credential helpers); push will be anonymous"
		c.Fix = "`docker login " + reg + "`, or pass --username with --password-stdin to nixify push"
		if reg == "ghcr.io" {
			c.Fix = "export GITHUB_TOKEN (a token with write:packages), or `docker login ghcr.io`"
		}
		return c
	}
	c.Status, c.Detail = OK, reg+": credentials found in the docker config"
	return c
}

const gib = 1 << 30

// checkDisk reports free space where images are built (the Nix store) and recorded (state dir).
func checkDisk(o Options, storeDir string) []Check {
	var out []Check
	seen := map[syscall.Fsid]bool{}
	for _, p := range []struct{ what, path string }{{"disk (nix store)", storeDir}, {"disk (state dir)", o.StateDir}} {
		if p.path == "" {
			continue
		}
		dir := existingParent(p.path)
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			out = append(out, Check{Name: p.what, Status: Warn, Detail: fmt.Sprintf("%s: %v", dir, err)})
			continue
		}
		if seen[st.Fsid] {
			continue
		}
		seen[st.Fsid] = true
		free := st.Bavail * uint64(st.Bsize)
		c := Check{Name: p.what, Status: OK, Detail: fmt.Sprintf("%s free at %s", iostreams.Bytes(int64(free)), dir)}
		switch {
		case free < gib:
			c.Status, c.Blocker = Fail, true
			c.Fix = "free space: `nix-collect-garbage -d`, `docker system prune`, `nixify clean --images`"
		case free < 5*gib:
			c.Status = Warn
			c.Fix = "an image build from source can need several GiB: `nix-collect-garbage -d`"
		}
		out = append(out, c)
	}
	return out
}

func existingParent(p string) string {
	p, _ = filepath.Abs(p)
	for {
		if _, err := os.Stat(p); err == nil || p == "/" {
			return p
		}
		p = filepath.Dir(p)
	}
}
