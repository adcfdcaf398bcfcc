#!/bin/sh
# Builds the image's PostgreSQL configuration on this machine and runs it: musl (Debian's
# musl-tools), the configure flags in image/postgresql/configure-flags, the musl locale change in
# image/postgresql/prepare.sh and the trimming in image/postgresql/trim.sh, the very files the Nix
# build uses. The image pins PostgreSQL 16 from nixpkgs, which cannot be fetched here; Debian 12
# ships the source of PostgreSQL 15, the closest real thing. Everything is downloaded from
# Debian's archive with apt-get (source packages need deb-src lines; this script adds them when
# they are missing). Then initdb runs with the arguments nixify-init gives it, a server starts, and
# a client checks SCRAM over TCP, PL/pgSQL, text search and the collations; last, the real
# nixify-init supervises this PostgreSQL to "ready". Prints the sizes of the result.
#
# Run as root from the repository root: sh bench/pgmusl/build.sh
# (WORK=/some/dir keeps the tree between runs; the compile runs niced with make -j2.)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${WORK:-/tmp/nixify-pgmusl}
mkdir -p "$work"
chmod 755 "$work"
cd "$work"

# Toolchain and sources, from Debian's archive only.
command -v musl-gcc >/dev/null || apt-get install -y -q musl-tools
if ! apt-cache showsrc postgresql-15 2>/dev/null | grep -q '^Version:'; then
	# The same mirror this machine's binary packages come from.
	mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
	[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list)
	cat >/etc/apt/sources.list.d/nixify-deb-src.sources <<SRC
Types: deb-src
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	apt-get update -q
fi
# fetch PACKAGE: the newest source version that downloads (a security update's source may be
# listed but not mirrored).
fetch() {
	ls "$work"/"$1"_*.orig.tar.* >/dev/null 2>&1 && return 0
	for v in $(apt-cache showsrc "$1" | sed -n 's/^Version: //p' | sort -rV); do
		apt-get source -q --download-only "$1=$v" >/dev/null 2>&1 && return 0
	done
	echo "could not download the source of $1" >&2
	exit 1
}
fetch postgresql-15
fetch zlib

# zlib for musl: Debian's is built for glibc.
if [ ! -e zlib/lib/libz.so ]; then
	rm -rf zlib-src && mkdir zlib-src
	tar -xf zlib_*.orig.tar.* -C zlib-src --strip-components=1
	(cd zlib-src && CC=musl-gcc ./configure --prefix="$work/zlib" >/dev/null && nice -n 19 make -j2 >/dev/null && make install >/dev/null)
fi

# PostgreSQL: upstream source, the image's flags, prepare.sh before configure, trim.sh after install.
flags=$(grep -v '^#' "$root/image/postgresql/configure-flags" | grep .)
# musl-gcc sees only musl's headers; pg_upgrade wants the kernel's (Nix's toolchain has them).
mkdir -p kheaders
ln -sfn /usr/include/linux kheaders/linux
ln -sfn /usr/include/asm-generic kheaders/asm-generic
ln -sfn "/usr/include/$(gcc -dumpmachine)/asm" kheaders/asm
if [ ! -d pg-src ]; then
	mkdir pg-src
	tar -xf postgresql-15_*.orig.tar.* -C pg-src --strip-components=1
	(cd pg-src && sh "$root/image/postgresql/prepare.sh")
fi
if [ ! -x pg/bin/postgres ]; then
	cd pg-src
	echo "== configure $(echo $flags)"
	# shellcheck disable=SC2086 # one flag per word
	./configure --prefix="$work/pg" $flags CC=musl-gcc \
		CPPFLAGS="-I$work/zlib/include -idirafter $work/kheaders" LDFLAGS="-L$work/zlib/lib -Wl,-rpath,$work/zlib/lib" >../configure.log
	start=$(date +%s)
	nice -n 19 make -j2 >../make.log 2>&1 || { tail -30 ../make.log; exit 1; }
	echo "== compiled in $(( $(date +%s) - start )) s (make -j2, niced, on a shared 2-core machine)"
	make install >../install.log 2>&1
	cd "$work"
	sh "$root/image/postgresql/trim.sh" "$work/pg"
	# Nix strips in its fixup phase (stripAllList = bin; debug sections elsewhere); this is the same.
	strip --strip-all pg/bin/*
	find pg/lib -name '*.so*' -type f -exec strip --strip-unneeded {} +
fi

echo "== what it is"
file pg/bin/postgres | sed 's/, BuildID[^,]*//'
readelf -d pg/bin/postgres | sed -n 's/.*(NEEDED).*\[\(.*\)\]/needs \1/p'
if strings pg/bin/postgres | grep -qx 'locale -a'; then echo "postgres still runs locale -a" >&2; exit 1; fi
echo "postgres never runs 'locale -a' (prepare.sh)"

echo "== sizes (bytes)"
for d in pg pg/bin pg/lib pg/share; do du -sb "$d"; done | awk '{printf "%-10s %9d  %6.2f MiB\n", $2, $1, $1/1048576}'
for d in timezone timezonesets tsearch_data; do
	s=$(find pg/share -type d -name "$d" | head -1)
	[ -n "$s" ] && du -sb "$s" | awk '{printf "%-28s %9d  %6.2f MiB\n", $2, $1, $1/1048576}'
done
ls -l pg/bin | awk 'NR>1 {printf "  bin/%-16s %9d\n", $9, $5}'
du -sb zlib/lib/libz.so.*.* | awk '{printf "  zlib %s %d\n", $2, $1}'

# The server, as nixify-init runs it: initdb with its arguments, as the postgres user.
id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent postgres
rm -rf data run && mkdir data run && chown postgres data run && chmod 700 data
echo "== initdb"
runuser -u postgres -- env -i PATH=/usr/bin:/bin pg/bin/initdb -D "$work/data" -U postgres --encoding=UTF8 --locale=C \
	--auth-local=trust --auth-host=scram-sha-256 --no-instructions
echo "data directory after initdb: $(du -sb data | cut -f1) bytes"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
runuser -u postgres -- env -i pg/bin/postgres -D "$work/data" -p "$port" -k "$work/run" -h 127.0.0.1 >server.log 2>&1 &
pg=$!
# runuser does not pass signals on: stop the postmaster by the pid it wrote.
stop_pg() { kill -INT "$(head -1 "$work/data/postmaster.pid")" 2>/dev/null || true; wait $pg || true; }
trap stop_pg EXIT
i=0
until pg/bin/pg_isready -q -h "$work/run" -p "$port"; do
	i=$((i + 1)); [ $i -lt 100 ] || { cat server.log; exit 1; }
	sleep 0.1
done
q() { runuser -u postgres -- pg/bin/psql -X -qAt -h "$work/run" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "$1"; }
echo "== the server"
q 'SELECT version()'
q "SELECT 'encoding ' || current_setting('server_encoding') || ', lc_collate ' || current_setting('lc_collate') || ', lc_ctype ' || current_setting('lc_ctype')"
q "SELECT 'collations: ' || string_agg(collname, ' ' ORDER BY collname) FROM pg_collation"
q "SELECT 'sorted C: ' || string_agg(w, ' ' ORDER BY w) FROM unnest(ARRAY['b','A','a','B','é']) w"
q "SELECT 'upper: ' || upper('straße é')"
q "CREATE FUNCTION twice(i int) RETURNS int LANGUAGE plpgsql AS \$\$ BEGIN RETURN 2 * i; END \$\$"
q "SELECT 'plpgsql: ' || twice(21)"
q "SELECT 'text search: ' || to_tsvector('english', 'The servers were running')::text"
q "SELECT 'uuid: ' || length(gen_random_uuid()::text)"
q "SELECT 'now in Europe/Paris: ' || (now() AT TIME ZONE 'Europe/Paris' IS NOT NULL)::text"
q "ALTER USER postgres PASSWORD 'proof-secret'"
echo "SCRAM over TCP: $(PGPASSWORD=proof-secret pg/bin/psql -X -qAt -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "SELECT 'logged in with ' || (SELECT CASE WHEN rolpassword LIKE 'SCRAM-SHA-256%' THEN 'SCRAM-SHA-256' END FROM pg_authid WHERE rolname = 'postgres')")"
stop_pg
trap - EXIT
echo "data directory after the session: $(du -sb data | cut -f1) bytes"

# The real nixify-init supervising this PostgreSQL: initdb, start, readiness, setup, health.
if command -v go >/dev/null; then
	echo "== nixify-init with this PostgreSQL"
	(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w -X github.com/nixify/nixify/internal/version.Version=proof' -o "$work/nixify-init" ./cmd/nixify-init)
	rm -rf init-root && mkdir -p init-root/bin && chmod 755 init-root
	ln -s "$work/pg/bin/"* init-root/bin/
	app=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	env -i PATH="$work/init-root/bin:/usr/bin:/bin" NIXIFY_DATA_DIR="$work/init-root/data" NIXIFY_RUN_DIR="$work/init-root/run" \
		NIXIFY_LISTEN=127.0.0.1 NIXIFY_SERVICES=postgres PG_PORT="$port" APP_PORT="$app" \
		"$work/nixify-init" >init.log 2>&1 &
	init=$!
	i=0
	until grep -qs 'ready' init.log && curl -fsS "http://127.0.0.1:$app/health" >health.json 2>/dev/null; do
		i=$((i + 1)); kill -0 $init 2>/dev/null && [ $i -lt 300 ] || { cat init.log; exit 1; }
		sleep 0.1
	done
	echo "health: $(head -c 300 health.json)"
	kill -TERM $init
	wait $init || true
	tail -3 init.log
fi
