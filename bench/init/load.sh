#!/bin/sh
# The whole nixify-init under load: boots it with Debian's PostgreSQL and Redis (as in the image,
# but on the host), loads /health with wrk (2 threads, 64 connections) side by side with a
# fixed-body Go server in the same run (alternating rounds, ROUNDS=3 by default), and prints
# throughput, p99, the probes each service received during the load (plain and ?fresh=1), and
# nixify-init's peak resident memory (VmHWM). Both servers use net/http's own timeouts.
# OLD=/path/to/an/older/nixify-init adds that binary to every round (a before/after figure).
# Run as root from the repository root: sh bench/init/load.sh [duration of each round, default 15s]
# Needs Debian's postgresql, redis-server and wrk.
set -eu
dur=${1:-15s}
work=$(mktemp -d /tmp/nixify-init-load.XXXXXX)
chmod 755 "$work"
pids=""
cleanup() {
	for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/nixify-init" ./cmd/nixify-init
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/fixed" ./bench/health
mkdir "$work/bin"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
ln -s "$pgbin/initdb" "$pgbin/postgres" "$work/bin/"
ln -s "$(command -v redis-server)" "$work/bin/"
app=48180 fixed=127.0.0.1:48181

env -i PATH="$work/bin:/usr/bin:/bin" NIXIFY_DATA_DIR="$work/data" NIXIFY_RUN_DIR="$work/run" \
	NIXIFY_LISTEN=127.0.0.1 NIXIFY_SERVICES=postgres,redis PG_PORT=48132 REDIS_PORT=48179 APP_PORT=$app \
	NIXIFY_HEALTH_INTERVAL=5s NIXIFY_HEALTH_TIMEOUT=2s \
	"$work/nixify-init" >"$work/init.log" 2>&1 &
init=$!
pids="$init"
until grep -q 'init | ready:' "$work/init.log"; do
	kill -0 $init 2>/dev/null || { cat "$work/init.log"; exit 1; }
	sleep 0.05
done
old=48190
if [ -n "${OLD:-}" ]; then
	env -i PATH="$work/bin:/usr/bin:/bin" NIXIFY_DATA_DIR="$work/old/data" NIXIFY_RUN_DIR="$work/old/run" \
		NIXIFY_LISTEN=127.0.0.1 NIXIFY_SERVICES=postgres,redis PG_PORT=48133 REDIS_PORT=48178 APP_PORT=$old \
		NIXIFY_HEALTH_INTERVAL=5s NIXIFY_HEALTH_TIMEOUT=2s \
		"$OLD" >"$work/old.log" 2>&1 &
	pids="$! $pids"
	until grep -q 'init | ready:' "$work/old.log"; do sleep 0.05; done
fi
"$work/fixed" -only-fixed -fixed "$fixed" &
pids="$! $pids"
sleep 0.3

probes() { wget -qO- "http://127.0.0.1:$app/metrics" 2>/dev/null || curl -s "http://127.0.0.1:$app/metrics"; }
count() { probes | awk -v s="$1" '$1 == "nixify_health_probes_started_total{service=\"" s "\"}" {print $2}'; }
load() { wrk -t2 -c64 -d"$dur" --latency "$1" | awk '/Requests\/sec/ {rps=$2} / 99%/ {p99=$2} END {print rps, p99}'; }

# Rounds alternate between the two servers so that the machine's load drifts over both alike; the
# ratios are of the medians, and of each round's pair (the median of those is the figure to quote).
rounds=${ROUNDS:-3}
: >"$work/fixed.txt"; : >"$work/health.txt"; : >"$work/old.txt"
pg0=$(count postgres) r0=$(count redis)
for i in $(seq "$rounds"); do
	load "http://$fixed/" >>"$work/fixed.txt"
	load "http://127.0.0.1:$app/health" >>"$work/health.txt"
	if [ -n "${OLD:-}" ]; then
		load "http://127.0.0.1:$old/health" >>"$work/old.txt"
		echo "round $i: OLD /health $(sed -n "${i}p" "$work/old.txt") (req/s, p99)"
	fi
	echo "round $i: fixed $(sed -n "${i}p" "$work/fixed.txt"), /health $(sed -n "${i}p" "$work/health.txt") (req/s, p99)"
done
pg1=$(count postgres) r1=$(count redis)
ms() { echo "$1" | awk '{v=$1+0; if ($1 ~ /us$/) v/=1000; else if ($1 ~ /ms$/) v=v; else if ($1 ~ /s$/) v*=1000; print v}'; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
f_rps=$(awk '{print $1}' "$work/fixed.txt" | median)
h_rps=$(awk '{print $1}' "$work/health.txt" | median)
f_p99=$(while read -r _ p; do ms "$p"; done <"$work/fixed.txt" | median)
h_p99=$(while read -r _ p; do ms "$p"; done <"$work/health.txt" | median)
echo "median fixed-body Go server: $f_rps req/s, p99 $f_p99 ms"
echo "median nixify-init /health:  $h_rps req/s, p99 $h_p99 ms"
echo "throughput ratio /health / fixed: $(awk -v a="$h_rps" -v b="$f_rps" 'BEGIN {printf "%.2f", a/b}') (goal >= 0.90)"
if [ -n "${OLD:-}" ]; then
	o_rps=$(awk '{print $1}' "$work/old.txt" | median)
	o_p99=$(while read -r _ p; do ms "$p"; done <"$work/old.txt" | median)
	echo "median OLD nixify-init /health: $o_rps req/s, p99 $o_p99 ms; ratio to fixed $(awk -v a="$o_rps" -v b="$f_rps" 'BEGIN {printf "%.2f", a/b}')"
	paste "$work/old.txt" "$work/fixed.txt" | awk '{printf "%.2f ", $1/$3}' | sed 's/^/paired per-round OLD throughput ratios: /; s/$/\n/'
fi
echo "p99 ratio /health / fixed: $(awk -v a="$h_p99" -v b="$f_p99" 'BEGIN {printf "%.2f", a/b}') (goal <= 1.2)"
# The honest figure: each round's /health against the fixed round just before it, so that a
# burst of load elsewhere on the machine shifts both sides of a ratio rather than one median.
paste "$work/health.txt" "$work/fixed.txt" | while read -r hr hp fr fp; do
	echo "$hr $fr $(ms "$hp") $(ms "$fp")"
done | awk '{printf "%.3f %.3f\n", $1/$2, $3/$4}' >"$work/paired.txt"
echo "paired per-round throughput ratios: $(awk '{printf "%.2f ", $1}' "$work/paired.txt")-> median $(awk '{print $1}' "$work/paired.txt" | median | awk '{printf "%.2f", $1}') (goal >= 0.90)"
echo "paired per-round p99 ratios: $(awk '{printf "%.2f ", $2}' "$work/paired.txt")-> median $(awk '{print $2}' "$work/paired.txt" | median | awk '{printf "%.2f", $1}') (goal <= 1.2)"
echo "probes during the /health load ($rounds x $dur, interval 5s): postgres $((pg1 - pg0)), redis $((r1 - r0))"

# Fresh requests: however many, at most one probe per service per interval/5 (1 s).
pg0=$(count postgres) r0=$(count redis)
t0=$(date +%s%N)
wrk -t2 -c64 -d"$dur" "http://127.0.0.1:$app/health?fresh=1" >/dev/null
t1=$(date +%s%N)
pg1=$(count postgres) r1=$(count redis)
echo "probes during $(( (t1 - t0) / 1000000 )) ms of /health?fresh=1 load: postgres $((pg1 - pg0)), redis $((r1 - r0)) (bound: one per second, plus the background check)"
hwm=$(awk '/VmHWM/ {print $2}' /proc/$init/status)
echo "nixify-init peak resident memory (VmHWM): $hwm kB"
