# Redis for the image: the server and its CLI, nothing else. No TLS (the server listens for
# nixify-init and the container's network, without certificates), no systemd, musl's malloc instead
# of jemalloc (the bundled jemalloc's configure cannot cross-compile, and the system one would bring
# its own closure), no test suite (Redis' own, timing-sensitive on shared runners, not the image's),
# and no redis-benchmark, redis-sentinel or redis-check-* links.
{ redis }:
(redis.override {
  tlsSupport = false;
  withSystemd = false;
  useSystemJemalloc = false;
}).overrideAttrs (old: {
  makeFlags = (old.makeFlags or [ ]) ++ [ "MALLOC=libc" ];
  doCheck = false;
  postInstall = (old.postInstall or "") + ''
    rm -f "$out"/bin/redis-benchmark "$out"/bin/redis-sentinel "$out"/bin/redis-check-aof "$out"/bin/redis-check-rdb
    rm -rf "$out"/share
    test -x "$out"/bin/redis-server && test -x "$out"/bin/redis-cli
  '';
  stripAllList = [ "bin" ];
})
