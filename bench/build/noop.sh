#!/bin/sh
# Compares a no-op `nixify build` with a plain `nix build --json` of the same attribute, side by
# side in one hyperfine run, on the offline test flake. Budget: nixify adds at most 50 ms.
# With a git revision as argument (e.g. `bench/build/noop.sh main`), that revision's nixify runs
# in the same hyperfine run too, for a before/after comparison. Prints the
# medians, then the event parser's throughput. RUNS (per round, default 10) and ROUNDS (default 5)
# set the number of runs.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
base=${1:-}
runs=${RUNS:-10} # per round
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The flake, the binaries and the state directory (.nixify in the working directory) live apart:
# a path: flake is hashed whole on every call, and a record written into it would change it.
mkdir "$work/flake" "$work/bin" "$work/run"
cp "$root/internal/build/testdata/flake/flake.nix" "$root/internal/build/testdata/flake/build-archive.sh" "$work/flake/"
echo "bench-$(date +%s)" > "$work/flake/nonce"
export NIX_CONFIG='experimental-features = nix-command flakes
substituters =
sandbox = false
build-users-group ='
(cd "$root" && go build -o "$work/bin/nixify" ./cmd/nixify)
if [ -n "$base" ]; then
  mkdir "$work/base"
  git -C "$root" archive "$base" | tar -x -C "$work/base"
  (cd "$work/base" && GOFLAGS=-buildvcs=false go build -o "$work/bin/nixify-base" ./cmd/nixify)
fi
cd "$work/run"
ref="path:$work/flake"
# First builds (plain nix writes the flake's lock file, nixify does not), then no-ops.
nix build --no-link "$ref#packages.x86_64-linux.image" >/dev/null 2>&1
"$work/bin/nixify" build --flake "$ref" --attr image >/dev/null 2>&1
set -- -n "nix build --json" "nix build --json --no-link --log-format internal-json $ref#packages.x86_64-linux.image"
if [ -n "$base" ]; then
  set -- "$@" -n "nixify build ($base)" "$work/bin/nixify-base build --flake $ref --attr image"
fi
set -- "$@" -n "nixify build" "$work/bin/nixify build --flake $ref --attr image"
# Rounds alternate the commands, so that the shared machine's load drifts over all of them alike;
# the medians are over every run of every round.
rounds=${ROUNDS:-5}
r=1
while [ "$r" -le "$rounds" ]; do
  hyperfine --style basic --warmup 2 --runs "$runs" --export-json "$work/noop-$r.json" "$@" >/dev/null
  r=$((r + 1))
done
jq -rs '[.[].results[]] | group_by(.command) as $g | ($g | map(select(.[0].command == "nix build --json"))[0] | [.[].times[]] | sort | .[length/2|floor]) as $nix |
  $g[] | ([.[].times[]] | sort) as $t | ([.[].user] | add / length) as $u | ([.[].system] | add / length) as $s |
  "\(.[0].command): median \($t[$t|length/2|floor] * 1000 | floor) ms (+\(($t[$t|length/2|floor] - $nix) * 1000 | floor) ms over nix build), min \($t[0] * 1000 | floor) ms, CPU user+sys \(($u + $s) * 1000 | floor) ms, \($t|length) runs"' "$work"/noop-*.json
if [ -n "$base" ]; then
  echo "event parser at $base:"
  (cd "$work/base" && GOFLAGS=-buildvcs=false go test -run '^$' -bench BenchmarkParseLine -benchtime 2s ./internal/nix | grep Benchmark)
  echo "event parser now:"
fi
cd "$root" && go test -run '^$' -bench BenchmarkParseLine -benchtime 2s ./internal/nix | grep Benchmark
