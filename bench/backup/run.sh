#!/bin/sh
# bench/backup/run.sh: nixify backup and restore against the same work done by hand in the same
# container, side by side in one run (alternating), printing medians and MiB/s of the database.
#
# Backup: `nixify backup FILE` (physical: pg_basebackup inside the container with the WAL
# streamed, Redis's BGSAVE, zstd, checksums) against, by hand, `pg_basebackup -D - -Ft -X fetch`
# plus `redis-cli --rdb` run in the same container with their output copied to the host.
# Restore: `nixify restore FILE` into a fresh volume (verify, create, write, start, recovery,
# healthy) against, by hand, the two files unpacked into a fresh volume with busybox tar in a
# throwaway container of the same image, then `nixify run` on that volume until healthy.
#
# Needs a running nixify container whose image has pg_basebackup and busybox (the NIXIFY_*
# variables choose it, as for every nixify command), docker, bc, and the nixify binary ($NIXIFY,
# default: nixify on PATH). ROWS rows go into a table bench_big first (default 8000000, ~1.2 GiB
# on disk). Restores go into containers $NIXIFY_CONTAINER-bench-rN / -hN on fresh volumes,
# removed after. RUNS (default 3) rounds of each.
set -eu
nixify=${NIXIFY:-nixify}
rows=${ROWS:-8000000}
runs=${RUNS:-3}
base=${NIXIFY_CONTAINER:?set NIXIFY_CONTAINER to a running nixify container}
port=${BENCH_PORT:-38490}
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/nixify-bench-backup.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
image=$(docker inspect -f '{{.Image}}' "$base")

have=$("$nixify" psql -- -tAc "select count(*) from bench_big" 2>/dev/null || echo 0)
if [ "$have" != "$rows" ]; then
	echo "filling bench_big with $rows rows" >&2
	printf "drop table if exists bench_big; create table bench_big(n int, s text); insert into bench_big select g, md5(g::text) || repeat('x', 68) from generate_series(1,%s) g;\n" "$rows" |
		"$nixify" psql -- -q -v ON_ERROR_STOP=1
fi
db=$("$nixify" psql -- -tAc "select sum(pg_database_size(datname)) from pg_database")

for f in nixify hand rnixify rhand; do : >"$tmp/$f.t"; done
i=1
while [ "$i" -le "$runs" ]; do
	t0=$(now)
	"$nixify" backup "$tmp/b$i.nxb" >/dev/null 2>&1
	t1=$(now)
	"$nixify" exec --user postgres -- pg_basebackup -h /run/postgresql -U postgres -D - -F tar -X fetch -c fast --no-manifest >"$tmp/hand$i.tar"
	"$nixify" redis-cli -- --rdb /tmp/bench-hand.rdb >/dev/null
	"$nixify" exec -- cat /tmp/bench-hand.rdb >"$tmp/hand$i.rdb"
	t2=$(now)
	echo "$t1 - $t0" | bc >>"$tmp/nixify.t"
	echo "$t2 - $t1" | bc >>"$tmp/hand.t"
	[ "$i" -gt 1 ] && rm -f "$tmp/b$i.nxb" "$tmp/hand$i.tar" "$tmp/hand$i.rdb"
	i=$((i + 1))
done
"$nixify" exec -- rm -f /tmp/bench-hand.rdb
echo "backups done; restoring" >&2

i=1
while [ "$i" -le "$runs" ]; do
	(
		export NIXIFY_PORT=$port NIXIFY_CONTAINER="$base-bench-r$i" NIXIFY_VOLUME="$base-bench-r$i"
		t0=$(now)
		"$nixify" restore "$tmp/b1.nxb" >/dev/null 2>&1
		t1=$(now)
		"$nixify" clean --volumes --yes >/dev/null 2>&1 || true
		echo "$t1 - $t0" | bc >>"$tmp/rnixify.t"
	)
	(
		export NIXIFY_PORT=$port NIXIFY_CONTAINER="$base-bench-h$i" NIXIFY_VOLUME="$base-bench-h$i"
		t0=$(now)
		docker volume create "$NIXIFY_VOLUME" >/dev/null
		docker run --rm -i -v "$NIXIFY_VOLUME:/data" --entrypoint /bin/busybox "$image" \
			sh -c 'mkdir -p /data/postgres && tar -x -C /data/postgres && chown -R postgres:postgres /data/postgres && chmod 700 /data/postgres' <"$tmp/hand1.tar"
		docker run --rm -i -v "$NIXIFY_VOLUME:/data" --entrypoint /bin/busybox "$image" \
			sh -c 'mkdir -p /data/redis/appendonlydir && cat > /data/redis/appendonlydir/appendonly.aof.1.base.rdb && echo "file appendonly.aof.1.base.rdb seq 1 type b" > /data/redis/appendonlydir/appendonly.aof.manifest' <"$tmp/hand1.rdb"
		"$nixify" run --image "$image" >/dev/null 2>&1
		t1=$(now)
		"$nixify" clean --volumes --yes >/dev/null 2>&1 || true
		# Made by docker, not labelled as nixify's: clean leaves it.
		docker volume rm "$NIXIFY_VOLUME" >/dev/null 2>&1 || true
		echo "$t1 - $t0" | bc >>"$tmp/rhand.t"
	)
	i=$((i + 1))
done

mib() { echo "scale=1; $db / 1048576 / $1" | bc; }
bn=$(median <"$tmp/nixify.t")
bh=$(median <"$tmp/hand.t")
rn=$(median <"$tmp/rnixify.t")
rh=$(median <"$tmp/rhand.t")
printf 'database %d MiB (pg_database_size), archive %d MiB, base backup by hand %d MiB, %d runs\n' $((db / 1048576)) \
	$(($(wc -c <"$tmp/b1.nxb") / 1048576)) $(($(wc -c <"$tmp/hand1.tar") / 1048576)) "$runs"
printf 'backup   nixify backup                   median %6.2f s  %s MiB/s  (%s)\n' "$bn" "$(mib "$bn")" "$(tr '\n' ' ' <"$tmp/nixify.t")"
printf 'backup   pg_basebackup + redis --rdb     median %6.2f s  %s MiB/s  (%s) ratio %.2f\n' "$bh" "$(mib "$bh")" "$(tr '\n' ' ' <"$tmp/hand.t")" "$(echo "$bn / $bh" | bc -l)"
printf 'restore  nixify restore                  median %6.2f s  %s MiB/s  (%s)\n' "$rn" "$(mib "$rn")" "$(tr '\n' ' ' <"$tmp/rnixify.t")"
printf 'restore  tar -x + nixify run             median %6.2f s  %s MiB/s  (%s) ratio %.2f\n' "$rh" "$(mib "$rh")" "$(tr '\n' ' ' <"$tmp/rhand.t")" "$(echo "$rn / $rh" | bc -l)"
