#!/bin/sh
# trim.sh PREFIX: removes from an installed PostgreSQL what a server in the image never uses:
# headers, static libraries, the extension build kit, pkg-config files, documentation and man
# pages, ecpg's libraries, and every program but the server's own and the everyday clients.
# image/postgresql.nix runs it after `make install`; bench/pgmusl/build.sh runs the same file.
set -eu
p=$1
keep="postgres initdb pg_ctl psql pg_dump pg_dumpall pg_basebackup pg_restore pg_isready pg_controldata pg_resetwal"
for f in "$p"/bin/*; do
	case " $keep " in *" $(basename "$f") "*) ;; *) rm -f "$f" ;; esac
done
rm -rf "$p/include" "$p/lib/pgxs" "$p/lib/pkgconfig" "$p/share/doc" "$p/share/man"
rm -f "$p"/lib/*.a "$p"/lib/libecpg* "$p"/lib/libpgtypes*
for b in $keep; do
	[ -x "$p/bin/$b" ] || { echo "trim.sh: $p/bin/$b is missing" >&2; exit 1; }
done
