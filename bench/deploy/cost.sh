#!/bin/sh
# What the Kubernetes client (deploy) costs the CLI: the size of `go build ./cmd/nixify` and the
# time of `nixify version`, before (BASE, a commit without deploy) and after (the working tree),
# side by side in one hyperfine run. Usage: sh bench/deploy/cost.sh BASE [RUNS]
set -eu
base=$1
runs=${2:-40}
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/base"
git -C "$root" archive "$base" | tar -x -C "$tmp/base"
(cd "$tmp/base" && go build -o "$tmp/nixify-before" ./cmd/nixify)
(cd "$root" && go build -o "$tmp/nixify-after" ./cmd/nixify)
for b in before after; do
	printf '%s: %s bytes\n' "$b" "$(stat -c %s "$tmp/nixify-$b")"
done
cd "$tmp"
hyperfine -N --warmup 5 --runs "$runs" --export-json "$tmp/hf.json" "$tmp/nixify-before version" "$tmp/nixify-after version" >/dev/null
python3 -c '
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("%s: median %.1f ms, user %.1f ms, system %.1f ms" % (r["command"].split("/")[-1], r["median"]*1000, r["user"]*1000, r["system"]*1000))
' "$tmp/hf.json"
