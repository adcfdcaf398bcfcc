#!/bin/sh
# Measures nixify-init: first boot (initdb included) and warm boot of postgres+redis to "ready",
# resident memory once ready, and the size of the stripped static binary. Run as root from the
# repository root: sh bench/init/boot.sh. Needs Debian's postgresql and redis-server.
set -eu
work=$(mktemp -d /tmp/nixify-init-bench.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/nixify-init" ./cmd/nixify-init
mkdir "$work/bin"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
ln -s "$pgbin/initdb" "$pgbin/postgres" "$work/bin/"
ln -s "$(command -v redis-server)" "$work/bin/"
echo "binary: $(stat -c %s "$work/nixify-init") bytes (stripped, static)"

# boot ROOT: starts the init, sets $ms to the milliseconds until "ready", leaves it running in $pid.
boot() {
	out="$work/out.$$"
	start=$(date +%s%N)
	env -i PATH="$work/bin:/usr/bin:/bin" NIXIFY_DATA_DIR="$1/data" NIXIFY_RUN_DIR="$1/run" \
		NIXIFY_LISTEN=127.0.0.1 NIXIFY_SERVICES=postgres,redis PG_PORT=${PG_PORT:-45432} REDIS_PORT=${REDIS_PORT:-46379} APP_PORT=${APP_PORT:-48080} \
		"$work/nixify-init" >"$out" 2>&1 &
	pid=$!
	until grep -qs 'init | ready:' "$out"; do
		kill -0 $pid 2>/dev/null || { cat "$out"; exit 1; }
		sleep 0.005
	done
	end=$(date +%s%N)
	ms=$(( (end - start) / 1000000 ))
}
stop() { kill -TERM $pid; wait $pid; }

for i in 1 2 3 4 5; do
	root="$work/root$i"; mkdir -p "$root"
	boot "$root"; cold=$ms
	rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
	stop
	boot "$root"; warm=$ms
	stop
	echo "run $i: first boot ${cold} ms, warm boot ${warm} ms, nixify-init RSS ${rss} kB"
done
