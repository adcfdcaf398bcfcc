#!/bin/sh
# Compares a no-op `nixify build` with a plain `nix build --json` of the same attribute, side by
# side (hyperfine), on the offline test flake. Budget: nixify adds at most 50 ms.
# Then the event parser's throughput (budget: at least 1,000,000 events/s).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$root/internal/build/testdata/flake/flake.nix" "$root/internal/build/testdata/flake/build-archive.sh" "$work/"
echo "bench-$(date +%s)" > "$work/nonce"
export NIX_CONFIG='experimental-features = nix-command flakes
substituters =
sandbox = false
build-users-group ='
(cd "$root" && go build -o "$work/nixify" ./cmd/nixify)
cd "$work"
ref="path:$work"
"$work/nixify" build --flake "$ref" --attr image >/dev/null 2>&1 # first build, then no-ops
hyperfine --warmup 3 --runs 30 --export-markdown "$work/noop.md" \
  -n "nix build --json" "nix build --json --no-link --log-format internal-json $ref#packages.x86_64-linux.image" \
  -n "nixify build" "$work/nixify build --flake $ref --attr image"
cat "$work/noop.md"
cd "$root" && go test -run '^$' -bench BenchmarkParseLine -benchtime 2s ./internal/nix | grep Benchmark
