#!/bin/sh
# Measures nixify-init from outside: first boot (initdb included) and warm boot of postgres+redis,
# each as the time from exec until GET /health answers 200 (what Docker's healthcheck and `nixify
# run` wait for); resident memory once ready; the size of the stripped static binary. Run as root from the repository root: sh bench/init/boot.sh [runs, default 5].
# Needs Debian's postgresql, redis-server and curl.
set -eu
runs=${1:-5}
work=$(mktemp -d /tmp/nixify-init-bench.XXXXXX)
chmod 755 "$work"
pid=""
trap '[ -n "$pid" ] && kill -TERM $pid 2>/dev/null; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/nixify-init" ./cmd/nixify-init
mkdir "$work/bin"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
ln -s "$pgbin/initdb" "$pgbin/postgres" "$work/bin/"
ln -s "$(command -v redis-server)" "$work/bin/"
echo "binary: $(stat -c %s "$work/nixify-init") bytes (stripped, static)"
app=${APP_PORT:-48080}

now() { date +%s%N; }
# boot ROOT: starts the init; sets $healthy to the milliseconds until /health answered
# 200; leaves the init running as $pid.
boot() {
	out="$work/out"
	: >"$out"
	start=$(now)
	env -i PATH="$work/bin:/usr/bin:/bin" NIXIFY_DATA_DIR="$1/data" NIXIFY_RUN_DIR="$1/run" \
		NIXIFY_LISTEN=127.0.0.1 NIXIFY_SERVICES=postgres,redis PG_PORT=${PG_PORT:-45432} REDIS_PORT=${REDIS_PORT:-46379} APP_PORT=$app \
		"$work/nixify-init" >"$out" 2>&1 &
	pid=$!
	until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$app/health")" = 200 ]; do
		kill -0 $pid 2>/dev/null || { cat "$out"; exit 1; }
	done
	healthy=$(( ($(now) - start) / 1000000 ))
	ready=$(sed -n 's/.*init | ready: .*, \([0-9]*\) ms after the start.*/\1/p' "$out")
}
stop() { kill -TERM $pid; wait $pid || true; pid=""; }

# initdb alone, as the init runs it, in the same run: the floor of a first boot on this machine now.
refinitdb() {
	mkdir "$work/ref$1"; chown postgres "$work/ref$1"
	t0=$(now)
	runuser -u postgres -- "$pgbin/initdb" -D "$work/ref$1/pg" -U postgres --encoding=UTF8 --locale=C \
		--auth-local=peer --auth-host=scram-sha-256 --no-instructions >/dev/null
	initdb=$(( ($(now) - t0) / 1000000 ))
	rm -rf "$work/ref$1"
}

for i in $(seq "$runs"); do
	root="$work/root$i"; mkdir -p "$root"
	refinitdb "$i"
	boot "$root"; cold=$healthy coldready=$ready
	rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
	stop
	boot "$root"; warm=$healthy warmready=$ready
	stop
	echo "run $i: to /health 200: first boot ${cold} ms, warm boot ${warm} ms (services ready after ${coldready} and ${warmready} ms, by the log; initdb alone ${initdb} ms); nixify-init RSS ${rss} kB"
done
