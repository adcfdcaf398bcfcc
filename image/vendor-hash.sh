#!/bin/sh
# Recomputes image/vendor-hash (buildGoModule's vendorHash) from go.mod and go.sum: the NAR hash
# of `go mod vendor`'s output. Run after changing dependencies.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$root" && go mod vendor -o "$tmp/vendor")
nix --extra-experimental-features nix-command hash path "$tmp/vendor" > "$root/image/vendor-hash"
cat "$root/image/vendor-hash"
