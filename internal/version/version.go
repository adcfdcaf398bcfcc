// Package version holds what the linker stamps into nixify and nixify-init: version, commit and
// build date (-X github.com/nixify/nixify/internal/version.Version=...). Unstamped builds fall back
// to what the Go toolchain recorded.
package version

import (
	"runtime"
	"runtime/debug"
)

// Set at link time by GoReleaser, the flake and `make`-less builds alike.
var (
	Version = "dev"
	Commit  = ""
	Date    = ""
)

// Info is the version report.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the version report, filling commit and date from the build's VCS stamp when the
// linker did not set them.
func Get() Info {
	i := Info{Version: Version, Commit: Commit, Date: Date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && i.Commit == "":
				i.Commit = s.Value
			case s.Key == "vcs.time" && i.Date == "":
				i.Date = s.Value
			}
		}
		if i.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
	}
	return i
}
