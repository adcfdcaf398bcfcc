package closure

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// NixpkgsLock reads the revision and URL of the flake's nixpkgs input from the flake.lock in
// its source (flakeDir is the store path `nix flake metadata` names), without asking nix. A flake
// without nixpkgs, or without a lock file, gives empty strings.
func NixpkgsLock(flakeDir string) (rev, url string) {
	data, err := os.ReadFile(filepath.Join(flakeDir, "flake.lock"))
	if err != nil {
		return "", ""
	}
	var lock struct {
		Root  string `json:"root"`
		Nodes map[string]struct {
			Inputs map[string]any `json:"inputs"`
			Locked struct {
				Type  string `json:"type"`
				Owner string `json:"owner"`
				Repo  string `json:"repo"`
				Rev   string `json:"rev"`
				URL   string `json:"url"`
			} `json:"locked"`
		} `json:"nodes"`
	}
	if json.Unmarshal(data, &lock) != nil {
		return "", ""
	}
	name, _ := lock.Nodes[lock.Root].Inputs["nixpkgs"].(string)
	node, ok := lock.Nodes[name]
	if !ok {
		return "", ""
	}
	l := node.Locked
	switch {
	case l.Type == "github":
		url = "github:" + l.Owner + "/" + l.Repo + "/" + l.Rev
	case l.URL != "":
		url = l.URL
	}
	return l.Rev, url
}

// CIFromEnv describes the GitHub Actions run from its environment, or nil outside one.
func CIFromEnv(getenv func(string) string) *CI {
	if getenv("GITHUB_ACTIONS") != "true" {
		return nil
	}
	return &CI{
		Provider:   "github-actions",
		Server:     getenv("GITHUB_SERVER_URL"),
		Repository: getenv("GITHUB_REPOSITORY"),
		Workflow:   getenv("GITHUB_WORKFLOW_REF"),
		RunID:      getenv("GITHUB_RUN_ID"),
		RunAttempt: getenv("GITHUB_RUN_ATTEMPT"),
		Commit:     getenv("GITHUB_SHA"),
		Ref:        getenv("GITHUB_REF"),
	}
}
