#!/bin/sh
# Run in PostgreSQL's source tree before configure (image/postgresql.nix's postPatch and
# bench/pgmusl/build.sh). musl has no `locale -a` and its locales all collate like C, so
# pg_import_system_collations must not read `locale -a` there (without this, initdb warns
# "no usable system locales were found", or, with glibc's `locale` on PATH, imports collations
# musl cannot honour). This replaces the patch nixpkgs fetches from another distribution's git
# server for musl builds: one guarded define, checked so a PostgreSQL that renames it fails here.
set -eu
f=src/backend/commands/collationcmds.c
grep -qx '#define READ_LOCALE_A_OUTPUT' "$f" || { echo "prepare.sh: $f has no READ_LOCALE_A_OUTPUT define" >&2; exit 1; }
sed -i 's/^#define READ_LOCALE_A_OUTPUT$/#ifdef __GLIBC__\n#define READ_LOCALE_A_OUTPUT\n#endif/' "$f"
