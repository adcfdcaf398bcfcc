#!/bin/sh
# bench/backup/run.sh: nixify backup and restore against the same work done by hand in the same
# container, side by side in one run, printing medians and MiB/s of the PostgreSQL dump.
#
# Needs a running nixify container whose image has pg_dumpall (the NIXIFY_* variables choose it,
# as for every nixify command) and the nixify binary ($NIXIFY, default: nixify on PATH).
# ROWS rows of 100-byte text go into a table bench_big first (default 3000000, ~400 MB on disk).
# Restores go into new containers $NIXIFY_CONTAINER-bench-rN / -hN on fresh volumes, removed after.
set -eu
nixify=${NIXIFY:-nixify}
rows=${ROWS:-3000000}
runs=${RUNS:-3}
base=${NIXIFY_CONTAINER:?set NIXIFY_CONTAINER to a running nixify container}
port=${BENCH_PORT:-38490}
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/nixify-bench-backup.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

have=$("$nixify" psql -- -tAc "select count(*) from bench_big" 2>/dev/null || echo 0)
if [ "$have" != "$rows" ]; then
	echo "filling bench_big with $rows rows" >&2
	printf "drop table if exists bench_big; create table bench_big(n int, s text); insert into bench_big select g, repeat('x', 100) from generate_series(1,%s) g;\n" "$rows" |
		"$nixify" psql -- -q -v ON_ERROR_STOP=1
fi
db=$("$nixify" psql -- -tAc "select sum(pg_database_size(datname)) from pg_database")

: >"$tmp/nixify.t"
: >"$tmp/hand.t"
i=1
while [ "$i" -le "$runs" ]; do
	t0=$(now)
	"$nixify" backup "$tmp/b$i.nxb" >/dev/null 2>&1
	t1=$(now)
	"$nixify" exec --user postgres -- pg_dumpall -h /run/postgresql -U postgres >"$tmp/hand$i.sql"
	t2=$(now)
	echo "$t1 - $t0" | bc >>"$tmp/nixify.t"
	echo "$t2 - $t1" | bc >>"$tmp/hand.t"
	i=$((i + 1))
done
dump=$(wc -c <"$tmp/hand1.sql")
bn=$(median <"$tmp/nixify.t")
bh=$(median <"$tmp/hand.t")

echo "backups done; restoring" >&2
# Restore: nixify restore into a fresh volume (create, write, start, healthy, load) against
# nixify run on a fresh volume and psql < the same dump by hand.
export NIXIFY_PORT=$port NIXIFY_CONTAINER="$base-bench-r" NIXIFY_VOLUME="$base-bench-r"
t0=$(now)
"$nixify" restore "$tmp/b1.nxb" >/dev/null 2>&1
t1=$(now)
"$nixify" clean --volumes --yes >/dev/null 2>&1 || true
export NIXIFY_CONTAINER="$base-bench-h" NIXIFY_VOLUME="$base-bench-h"
t2=$(now)
"$nixify" run --image "$(docker inspect -f '{{.Image}}' "$base")" >/dev/null 2>&1
# Over the socket as the postgres user, as restore does: over TCP, the dump's ALTER ROLE ...
# PASSWORD would change the password under psql's feet and the next \connect would fail.
"$nixify" exec --user postgres -- psql -h /run/postgresql -U postgres -q -f - <"$tmp/hand1.sql" >/dev/null 2>&1
t3=$(now)
"$nixify" clean --volumes --yes >/dev/null 2>&1 || true
rn=$(echo "$t1 - $t0" | bc)
rh=$(echo "$t3 - $t2" | bc)

mib() { echo "scale=1; $dump / 1048576 / $1" | bc; }
printf 'database %d MiB on disk, dump %d MiB, archive %d KiB, %d runs\n' $((db / 1048576)) $((dump / 1048576)) $(($(wc -c <"$tmp/b1.nxb") / 1024)) "$runs"
printf 'backup   nixify backup   median %6.2f s  %s MiB/s\n' "$bn" "$(mib "$bn")"
printf 'backup   pg_dumpall      median %6.2f s  %s MiB/s  (ratio %.2f)\n' "$bh" "$(mib "$bh")" "$(echo "$bn / $bh" | bc -l)"
printf 'restore  nixify restore         %6.2f s  %s MiB/s\n' "$rn" "$(mib "$rn")"
printf 'restore  run + psql < dump      %6.2f s  %s MiB/s  (ratio %.2f)\n' "$rh" "$(mib "$rh")" "$(echo "$rn / $rh" | bc -l)"
