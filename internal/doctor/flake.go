package doctor

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/nixify/nixify/internal/nix"
)

// nixpkgsRE finds a nixpkgs input in a flake.nix that has no lock yet.
var nixpkgsRE = regexp.MustCompile(`(?i)github:nixos/nixpkgs|\bnixpkgs\.url\b|\binputs\.nixpkgs\b|\bflake:nixpkgs\b`)

// usesNixpkgs reports whether the configured flake has a nixpkgs input, which Nix older than
// MinNixpkgsNix cannot evaluate. It reads flake.lock when there is one, else flake.nix's text;
// known is false when doctor cannot read the flake (a remote reference, no flake.nix).
func usesNixpkgs(ref, workDir string) (uses, known bool) {
	dir, ok := nix.LocalFlakeDir(ref, workDir)
	if !ok {
		return false, false
	}
	if data, err := os.ReadFile(filepath.Join(dir, "flake.lock")); err == nil {
		var lock struct {
			Root  string `json:"root"`
			Nodes map[string]struct {
				Inputs   map[string]any `json:"inputs"`
				Original struct {
					Owner, Repo, ID string
				} `json:"original"`
			} `json:"nodes"`
		}
		if json.Unmarshal(data, &lock) == nil {
			for name := range lock.Nodes[lock.Root].Inputs {
				o := lock.Nodes[name].Original
				if name == "nixpkgs" || strings.EqualFold(o.Repo, "nixpkgs") || o.ID == "nixpkgs" {
					return true, true
				}
			}
			return false, true
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "flake.nix"))
	if err != nil {
		return false, false
	}
	return nixpkgsRE.Match(data), true
}
