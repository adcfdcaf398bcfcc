#!/bin/sh
# The one `go build` of nixify's Go programs, run by image/nixify.nix's build phase with the build
# host's own Go. GOOS=linux, GOARCH from the first argument, CGO off: Go's own linker then writes a
# static executable (no interpreter, no dynamic section) for either architecture, without a musl or
# cross Go toolchain. -buildmode=exe on the command line overrides the -buildmode=pie that
# buildGoModule adds to GOFLAGS when the pie hardening is on (a Go PIE is a dynamic executable).
# -s -w in the ldflags strip the symbol table and DWARF; the derivation does not strip again.
# internal/build's TestNixifyInitFromTheHostGoIsStatic runs the derivation's build phase, and with it
# this script, for both architectures and checks the result with debug/elf.
#
# Usage: go-build.sh GOARCH OUTPUT PACKAGE LDFLAGS
set -eu
if [ $# -ne 4 ]; then
	echo "usage: go-build.sh GOARCH OUTPUT PACKAGE LDFLAGS" >&2
	exit 2
fi
case $1 in
amd64 | arm64) ;;
*)
	echo "go-build.sh: GOARCH \"$1\" is not one of the image's: amd64, arm64" >&2
	exit 2
	;;
esac
GOOS=linux GOARCH=$1 CGO_ENABLED=0 exec go build -buildmode=exe -trimpath -ldflags "$4" -o "$2" "$3"
