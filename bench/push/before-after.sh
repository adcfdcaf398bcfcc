#!/usr/bin/env bash
# Runs bench/push as of a base revision and as of the working tree alternately (which goes first
# alternates too), ROUNDS times each, in one run, and prints each round's figures and the medians
# side by side.
# Usage: bash bench/push/before-after.sh BASE_REV [ROUNDS]   (needs docker-registry and crane)
set -euo pipefail
base=${1:?base revision}
rounds=${2:-5}
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$base" | tar -x -C "$tmp" --one-top-level=base
go build -o "$tmp/before" "$tmp/base/bench/push" 2>/dev/null || (cd "$tmp/base" && go build -o "$tmp/before" ./bench/push)
go build -o "$tmp/after" ./bench/push
for i in $(seq "$rounds"); do
  order="before after"
  if [ $((i % 2)) -eq 0 ]; then order="after before"; fi # neither always runs first
  for which in $order; do
    "$tmp/$which" | awk -v w="$which" -F: '/nixify push/ {n=$2} /crane push/ {c=$2} /re-push/ {r=$2}
      END {gsub(/[^0-9]/,"",n); gsub(/[^0-9]/,"",c); gsub(/[^0-9]/,"",r); print w, n, c, r}'
  done
done | tee "$tmp/rounds"
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "medians of $rounds rounds (ms): nixify push, crane push x2 + index, nixify re-push, nixify/crane"
for which in before after; do
  n=$(awk -v w=$which '$1==w {print $2}' "$tmp/rounds" | median)
  c=$(awk -v w=$which '$1==w {print $3}' "$tmp/rounds" | median)
  r=$(awk -v w=$which '$1==w {print $4}' "$tmp/rounds" | median)
  printf '%-7s %6s %6s %6s  %.2fx\n' "$which" "$n" "$c" "$r" "$(echo "$n / $c" | bc -l)"
done
