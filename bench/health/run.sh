#!/bin/sh
# Load benchmark of the health server (issue 4): wrk against a fixed-body Go server and against
# /health of the embedded health server, side by side in one process and one run, with real Redis and
# PostgreSQL behind it. Prints throughput, p99, probes per service during the load, and the RSS.
# Usage: bench/health/run.sh [duration, default 15s]   (needs redis-server, PostgreSQL 15, wrk; root)
set -eu
DUR=${1:-15s}
CONNS=64
THREADS=2
REPO=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/health-bench.XXXXXX)
chmod 755 "$WORK"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
REDIS_PORT=26379 PG_PORT=25432 APP_PORT=18080 FIXED=127.0.0.1:18081
REDIS_PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
POSTGRES_PASSWORD=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# The password goes to redis-server through a config file, never on a command line.
printf 'port %s\nbind 127.0.0.1\nsave ""\nappendonly no\ndir %s\nrequirepass %s\n' \
	"$REDIS_PORT" "$WORK" "$REDIS_PASSWORD" >"$WORK/redis.conf"
chmod 600 "$WORK/redis.conf"
redis-server "$WORK/redis.conf" >"$WORK/redis.log" 2>&1 &
pids="$pids $!"

printf '%s\n' "$POSTGRES_PASSWORD" >"$WORK/pw"
chown -R postgres "$WORK"
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg" -U postgres --pwfile "$WORK/pw" --auth scram-sha-256 -N >/dev/null
rm -f "$WORK/pw"
runuser -u postgres -- "$PGBIN/postgres" -D "$WORK/pg" -p "$PG_PORT" -k "$WORK" -c listen_addresses=127.0.0.1 \
	>"$WORK/pg.log" 2>&1 &
pids="$pids $!"

(cd "$REPO" && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$WORK/health-bench" ./bench/health)
export REDIS_PORT PG_PORT APP_PORT REDIS_PASSWORD POSTGRES_PASSWORD
export REDIS_HOST=127.0.0.1 PG_HOST=127.0.0.1 NIXIFY_SERVICES=postgres,redis
export NIXIFY_HEALTH_INTERVAL=5s NIXIFY_HEALTH_TIMEOUT=2s
sleep 1
"$WORK/health-bench" -fixed "$FIXED" &
BENCH=$!
pids="$BENCH $pids"
for _ in $(seq 50); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$APP_PORT/health || true)" = 200 ] && break
	sleep 0.2
done
[ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$APP_PORT/health)" = 200 ] || {
	echo "health server never answered 200:"; curl -s http://127.0.0.1:$APP_PORT/health; exit 1; }

probes() { curl -s "http://127.0.0.1:$APP_PORT/metrics" | awk -v s="$1" \
	'$1 == "nixify_health_probes_started_total{service=\"" s "\"}" {print $2}'; }
pings() { REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -p "$REDIS_PORT" info commandstats |
	awk -F'[=,:]' '/^cmdstat_ping/ {print $3}'; }
pgconns() { PGPASSWORD=$POSTGRES_PASSWORD "$PGBIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc \
	"select count(*) from pg_stat_activity where application_name = 'nixify-health'" 2>/dev/null; }
load() { wrk -t$THREADS -c$CONNS -d"$DUR" --latency "$1" >"$WORK/wrk.out"
	rps=$(awk '/^Requests\/sec/ {print $2}' "$WORK/wrk.out")
	p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.out")
	non2xx=$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk.out")
	echo "$rps ${p99} ${non2xx:-0}"; }

echo "binary: health-bench (health server + fixed server), static, stripped: $(stat -c %s "$WORK/health-bench") bytes"
echo "wrk -t$THREADS -c$CONNS -d$DUR, $(nproc) cores"
set -- $(load "http://$FIXED/")
echo "fixed body   : $1 req/s  p99 $2  non-2xx $3"
FIX_RPS=$1 FIX_P99=$2
rp0=$(probes redis) pp0=$(probes postgres) ping0=$(pings)
t0=$(date +%s.%N)
set -- $(load "http://127.0.0.1:$APP_PORT/health")
t1=$(date +%s.%N)
rp1=$(probes redis) pp1=$(probes postgres) ping1=$(pings)
echo "/health      : $1 req/s  p99 $2  non-2xx $3"
H_RPS=$1 H_P99=$2
echo "load window  : $(echo "$t1 - $t0" | bc) s at interval $NIXIFY_HEALTH_INTERVAL"
echo "probes       : redis $((rp1 - rp0)) (redis saw $((ping1 - ping0)) PING), postgres $((pp1 - pp0))"
echo "rss          : $(awk '/VmRSS/ {print $2, $3}' /proc/$BENCH/status) now, $(awk '/VmHWM/ {print $2, $3}' /proc/$BENCH/status) peak"
to_ms() { case $1 in *us) echo "${1%us} / 1000" | bc -l ;; *ms) echo "${1%ms}" ;; *s) echo "${1%s} * 1000" | bc -l ;; esac; }
echo "ratio        : throughput $(echo "scale=2; $H_RPS / $FIX_RPS" | bc) (goal >= 0.5), p99 $(echo "scale=2; $(to_ms "$H_P99") / $(to_ms "$FIX_P99")" | bc) (goal <= 1.5)"
