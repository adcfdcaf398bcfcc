#!/bin/sh
# Slow clients against the health server: nixify-init (with Debian's Redis, as in the image but on
# the host) and a plain net/http server (bench/health -only-fixed: no connection cap, net/http's own
# timeouts) side by side in one run, each under CONNS connections trickling request headers (one
# byte every 500 ms, default 2000). Prints, for each, the probes of /health answered (16, each on a
# fresh connection with a 3 s limit) and the server's resident memory.
# OLD=/path/to/an/older/nixify-init adds that binary as a third server (a before/after figure).
# Run as root from the repository root: sh bench/init/slowclients.sh
set -eu
conns=${CONNS:-2000}
work=$(mktemp -d /tmp/nixify-slowclients.XXXXXX)
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
go build -o "$work/slowclients" ./bench/slowclients
mkdir "$work/bin"
ln -s "$(command -v redis-server)" "$work/bin/"

# boot NAME BINARY APP_PORT REDIS_PORT: an init running Redis, ready.
boot() {
	env -i PATH="$work/bin:/usr/bin:/bin" NIXIFY_DATA_DIR="$work/$1/data" NIXIFY_RUN_DIR="$work/$1/run" \
		NIXIFY_LISTEN=127.0.0.1 NIXIFY_SERVICES=redis REDIS_PORT=$4 APP_PORT=$3 \
		"$2" >"$work/$1.log" 2>&1 &
	echo $! >"$work/$1.pid"
	pids="$! $pids"
	until grep -q 'init | ready:' "$work/$1.log"; do
		kill -0 "$(cat "$work/$1.pid")" 2>/dev/null || { cat "$work/$1.log"; exit 1; }
		sleep 0.05
	done
	sleep 0.5 # the first check
}
boot new "$work/nixify-init" 48280 48279
"$work/fixed" -only-fixed -fixed 127.0.0.1:48281 &
fixed=$!
pids="$fixed $pids"
if [ -n "${OLD:-}" ]; then boot old "$OLD" 48290 48289; fi
sleep 0.3
"$work/slowclients" -name "plain net/http" -url http://127.0.0.1:48281/ -pid "$fixed" -conns "$conns"
"$work/slowclients" -name "nixify-init /health" -url http://127.0.0.1:48280/health -pid "$(cat "$work/new.pid")" -conns "$conns"
if [ -n "${OLD:-}" ]; then
	"$work/slowclients" -name "OLD nixify-init" -url http://127.0.0.1:48290/health -pid "$(cat "$work/old.pid")" -conns "$conns"
fi
