# The image's size budget and, per component, the lever that shrinks it, largest saving first.
# The build workflow (.github/scripts/components.sh budget) names the largest components with
# these levers when the image is over budget; BENCHMARKS.md ("The image's closure") has the
# figures behind them. `shared` is what several components link (musl, gcc's runtime, zlib).
{
  maxMiB = 60;
  levers = {
    garage = "link Garage statically (Rust's +crt-static for musl: gcc's lib output leaves the closure, 3-4.5 MiB), then drop its metrics feature (the admin API's /metrics, 1-2 MiB)";
    postgresql = "drop pg_dump, pg_restore, pg_dumpall (0.73 MiB measured) and pg_basebackup in image/postgresql/trim.sh; the server, initdb, pg_ctl and psql must stay";
    shared = "a slim copy of musl's libc.so instead of musl's whole out (2.3 MiB: libc.a and the crt objects; the binaries' interpreter must be rewritten)";
    redis = "already server and CLI only, libc malloc, no TLS: next is redis-cli (0.4 MiB), which nixify redis-cli uses";
    nixify-init = "already -s -w and CGO off: find the heaviest dependency with go tool nm -size -sort size and drop it";
    busybox = "a busybox configured with only sh (initdb and pg_ctl need /bin/sh for popen): under 0.5 MiB";
  };
}
