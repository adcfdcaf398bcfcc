#!/usr/bin/env bash
# `nixify run` on a fresh engine (the image not loaded, a new data volume: initdb included) side by
# side with the same done by hand: `docker load` + `docker run` + polling /health until it answers
# 200. The two alternate, round after round, so that the machine's load falls on both alike; each
# phase is timed, so a difference can be placed. Prints figures; asserts nothing.
# Needs docker, curl, go. Usage: bench/run/fresh.sh [rounds]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
work=$(mktemp -d)
tag="nixify-bench-fresh:$(date +%s)"
export NIXIFY_STATE_DIR="$work/state" NO_COLOR=1
port_hand=18394 port_nixify=18395

cleanup() {
  docker rm -f bench-fresh-hand bench-fresh-nixify >/dev/null 2>&1 || true
  docker volume rm -f bench-fresh-hand-vol bench-fresh-nixify-vol >/dev/null 2>&1 || true
  docker rmi -f "$tag" $(docker images -q "nixify-bench-fresh-run" 2>/dev/null) >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building nixify, nixify-init and the test image"
go build -o "$work/nixify" ./cmd/nixify
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/nixify-init" ./cmd/nixify-init
go run ./bench/run/mkimage "$work/nixify-init" "$tag" "$work/img.tar" >/dev/null
echo "engine: $(docker version --format '{{.Server.Version}}'), $(nproc) cores, archive $(du -h "$work/img.tar" | cut -f1)"

now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) * 1000 }'; }

# fresh: nothing of either side's left on the engine, the image not held.
fresh() {
  docker rm -f bench-fresh-hand bench-fresh-nixify >/dev/null 2>&1 || true
  docker volume rm -f bench-fresh-hand-vol bench-fresh-nixify-vol >/dev/null 2>&1 || true
  for ref in $(docker images -q "$tag") $(docker images -q "nixify-bench-fresh-run"); do docker rmi -f "$ref" >/dev/null 2>&1 || true; done
  sync
}

by_hand() {
  local t0 t1 t2 t3
  t0=$(now)
  docker load -q -i "$work/img.tar" >/dev/null
  t1=$(now)
  docker run -d --name bench-fresh-hand -p 127.0.0.1:$port_hand:80 -v bench-fresh-hand-vol:/data -e APP_PORT=80 "$tag" >/dev/null
  t2=$(now)
  until curl -sf -o /dev/null "http://127.0.0.1:$port_hand/health"; do sleep 0.1; done
  t3=$(now)
  echo "hand $(ms "$t0" "$t3") $(ms "$t0" "$t1") $(ms "$t1" "$t2") $(ms "$t2" "$t3")"
}

with_nixify() {
  local t0 t3 out
  t0=$(now)
  out=$(NIXIFY_CONTAINER=bench-fresh-nixify NIXIFY_VOLUME=bench-fresh-nixify-vol NIXIFY_IMAGE=nixify-bench-fresh-run \
    NIXIFY_PORT=$port_nixify "$work/nixify" run --tar "$work/img.tar" 2>&1)
  t3=$(now)
  # nixify's own phases, from its progress lines: "✓ loading ... (2.35s)", "✓ waiting for ... (2.8s)".
  local load wait
  load=$(echo "$out" | sed -n 's/^✓ loading .*(\([0-9.]*\)\(m\?s\))$/\1 \2/p' | awk '{ printf "%d", ($2 == "ms") ? $1 : $1 * 1000 }')
  wait=$(echo "$out" | sed -n 's/^✓ waiting for .*(\([0-9.]*\)\(m\?s\))$/\1 \2/p' | awk '{ printf "%d", ($2 == "ms") ? $1 : $1 * 1000 }')
  local total
  total=$(ms "$t0" "$t3")
  echo "nixify $total ${load:-0} $((total - ${load:-0} - ${wait:-0})) ${wait:-0}"
}

echo
echo "== $rounds rounds, alternating (milliseconds: total = load + create/start + until /health 200)"
printf '%-7s %-7s %7s %7s %7s %7s\n' round who total load start health
results=()
for i in $(seq 1 "$rounds"); do
  # Alternate which side goes first, so neither always runs right after the other's cleanup.
  if (( i % 2 )); then order="by_hand with_nixify"; else order="with_nixify by_hand"; fi
  for f in $order; do
    fresh
    line=$($f)
    results+=("$line")
    set -- $line
    printf '%-7s %-7s %7s %7s %7s %7s\n' "$i" "$1" "$2" "$3" "$4" "$5"
  done
done
fresh

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%d\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo
echo "== medians (ms)"
for who in hand nixify; do
  printf '%-7s' "$who"
  for col in 2 3 4 5; do
    printf ' %7s' "$(printf '%s\n' "${results[@]}" | awk -v w="$who" -v c="$col" '$1 == w { print $c }' | median)"
  done
  echo
done
h=$(printf '%s\n' "${results[@]}" | awk '$1 == "hand" { print $2 }' | median)
n=$(printf '%s\n' "${results[@]}" | awk '$1 == "nixify" { print $2 }' | median)
awk -v n="$n" -v h="$h" 'BEGIN { printf "nixify run / by hand: %.2f x\n", n / h }'
