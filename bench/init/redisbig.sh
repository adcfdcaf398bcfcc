#!/bin/sh
# Boot and stop of nixify-init with a Redis holding about 1 GB (Debian's Redis on the host, as the
# image runs it): one dataset is written once (DEBUG POPULATE by a Redis of the script's own, in the
# init's append-only layout, uncompressed), then each init binary boots on a copy of it. Prints the
# time from the init's start to /health 200, the time from SIGTERM to its exit, its exit code, and
# the RDB files left in the Redis directory.
# OLD=/path/to/an/older/nixify-init adds that binary (a before/after figure); ROUNDS (default 2)
# alternates the binaries. KEYS and SIZE shape the dataset (default 1000000 x 1000 bytes).
# Run as root from the repository root: sh bench/init/redisbig.sh
set -eu
keys=${KEYS:-1000000} size=${SIZE:-1000} rounds=${ROUNDS:-2}
work=$(mktemp -d /tmp/nixify-redisbig.XXXXXX)
chmod 755 "$work"
seedpid=""
cleanup() {
	[ -n "$seedpid" ] && kill "$seedpid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/nixify-init" ./cmd/nixify-init
mkdir "$work/bin" "$work/seed"
ln -s "$(command -v redis-server)" "$work/bin/"

redis-server --port 48379 --bind 127.0.0.1 --dir "$work/seed" --save "" --appendonly yes \
	--rdbcompression no --enable-debug-command yes --daemonize no --logfile "" >"$work/seed.log" 2>&1 &
seedpid=$!
until redis-cli -p 48379 PING >/dev/null 2>&1; do sleep 0.05; done
redis-cli -p 48379 DEBUG POPULATE "$keys" key "$size" >/dev/null
redis-cli -p 48379 BGREWRITEAOF >/dev/null
sleep 1
while redis-cli -p 48379 INFO persistence | grep -q 'aof_rewrite_in_progress:1\|aof_rewrite_scheduled:1'; do sleep 0.2; done
echo "dataset: $(redis-cli -p 48379 INFO memory | awk -F: '/^used_memory_human/ {print $2}' | tr -d '\r') in Redis, $(du -sh "$work/seed/appendonlydir" | cut -f1) on disk ($keys keys of $size bytes)"
redis-cli -p 48379 SHUTDOWN NOSAVE >/dev/null 2>&1 || true
wait "$seedpid" 2>/dev/null || true
seedpid=""

now() { date +%s%N; }
# once NAME BINARY: boot on a fresh copy, to /health 200, then SIGTERM to exit.
once() {
	rm -rf "$work/run-$1"
	mkdir -p "$work/run-$1/data"
	chmod 755 "$work/run-$1" "$work/run-$1/data"
	cp -a "$work/seed" "$work/run-$1/data/redis"
	sync
	t0=$(now)
	env -i PATH="$work/bin:/usr/bin:/bin" NIXIFY_DATA_DIR="$work/run-$1/data" NIXIFY_RUN_DIR="$work/run-$1/run" \
		NIXIFY_LISTEN=127.0.0.1 NIXIFY_SERVICES=redis REDIS_PORT=48380 APP_PORT=48381 \
		"$2" >"$work/run-$1/init.log" 2>&1 &
	pid=$!
	until curl -sf -o /dev/null http://127.0.0.1:48381/health; do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	t1=$(now)
	up="$(( (t1 - t0) / 1000000 )) ms"
	kill -0 "$pid" 2>/dev/null || up="never (the init exited: $(tail -1 "$work/run-$1/init.log"))"
	t2=$(now)
	kill -TERM "$pid" 2>/dev/null || true
	code=0
	wait "$pid" || code=$?
	t3=$(now)
	left=$(cd "$work/run-$1/data/redis" && ls -sh ./*.rdb 2>/dev/null | tr '\n' ' ')
	killed=$(grep -c 'sending SIGKILL' "$work/run-$1/init.log" || true)
	echo "$1: to /health 200 $up; SIGTERM to exit $(( (t3 - t2) / 1000000 )) ms, exit $code, SIGKILLs $killed, RDB files left: ${left:-none}"
	rm -rf "$work/run-$1"
}
for i in $(seq "$rounds"); do
	[ -n "${OLD:-}" ] && once old "$OLD"
	once new "$work/nixify-init"
done
