#!/usr/bin/env bash
# Benchmarks of `nixify run` on the real Docker engine with the end-to-end test image (nixify-init,
# PostgreSQL, Redis). Prints figures; asserts nothing. Needs docker, hyperfine, curl.
#   1. first boot to healthy: a fresh data volume each run (initdb included), through `nixify run`
#   2. `nixify run` of an image the engine holds, to healthy, side by side with `docker run` plus
#      polling the same endpoint (/health?fresh=1 every 100 ms, as nixify polls), both on an
#      initialised volume, both stopped gracefully between runs (outside the timing).
# Usage: bench/run/bench.sh [runs]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-10}
work=$(mktemp -d)
tag="nixify-bench:$(date +%s)"
export NIXIFY_STATE_DIR="$work/state" NO_COLOR=1
p1=18391 p2=18392 p3=18393

cleanup() {
  docker rm -f bench-first bench-docker bench-nixify >/dev/null 2>&1 || true
  docker volume rm -f bench-first-vol bench-docker-vol bench-nixify-vol >/dev/null 2>&1 || true
  docker rmi "$tag" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building nixify, nixify-init and the test image"
go build -o "$work/nixify" ./cmd/nixify
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/nixify-init" ./cmd/nixify-init
go run ./bench/run/mkimage "$work/nixify-init" "$tag" "$work/img.tar" >/dev/null
docker load -q -i "$work/img.tar" >/dev/null
echo "engine: $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'), $(nproc) cores"

nixify() { "$work/nixify" "$@"; }
export -f nixify 2>/dev/null || true

echo
echo "== 1. first boot to healthy (fresh volume, initdb included), $runs runs"
hyperfine --runs "$runs" --style basic \
  --prepare 'docker rm -f bench-first >/dev/null 2>&1; docker volume rm -f bench-first-vol >/dev/null 2>&1; true' \
  -n 'nixify run (first boot)' \
  "NIXIFY_CONTAINER=bench-first NIXIFY_VOLUME=bench-first-vol NIXIFY_PORT=$p1 $work/nixify run --image $tag >/dev/null 2>&1"

echo
echo "== 2. image already held, initialised volume: nixify run vs docker run + polling, $runs runs"
poll="until curl -sf 'http://127.0.0.1:$p2/health?fresh=1' >/dev/null; do sleep 0.1; done"
hyperfine --runs "$runs" --warmup 1 --style basic \
  --prepare 'docker stop -t 10 bench-docker >/dev/null 2>&1; docker rm bench-docker >/dev/null 2>&1; docker stop -t 10 bench-nixify >/dev/null 2>&1; docker rm bench-nixify >/dev/null 2>&1; true' \
  -n 'docker run + poll' \
  "docker run -d --name bench-docker -p 127.0.0.1:$p2:80 -v bench-docker-vol:/data -e APP_PORT=80 $tag >/dev/null && $poll" \
  -n 'nixify run' \
  "NIXIFY_CONTAINER=bench-nixify NIXIFY_VOLUME=bench-nixify-vol NIXIFY_PORT=$p3 $work/nixify run --image $tag >/dev/null 2>&1"
