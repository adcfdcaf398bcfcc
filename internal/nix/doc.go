// Package nix runs the nix command for nixify and reads what it says: the internal-json event
// stream of a build (event.go, decoded with encoding/json), a model of the build that the live
// view draws (monitor.go), what a build would build and fetch (dryrun.go), and the handful of
// other calls nixify needs (settings, flake metadata, attribute names, store queries).
package nix
