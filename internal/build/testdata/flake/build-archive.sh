# Writes a one-layer docker-archive to $out for architecture $arch. Absolute paths: Nix gives
# builders PATH=/path-not-set.
set -eu
# The nonce goes into JSON: keep it to one line without quotes.
nonce=$(printf %s "$nonce" | /usr/bin/tr -d '\n"\\')
/bin/mkdir -p rootfs/etc layer
/bin/echo "hello from $arch" > rootfs/etc/hello
/bin/tar --sort=name --mtime=@1 --owner=0 --group=0 --numeric-owner -C rootfs -cf layer/layer.tar .
diff=$(/usr/bin/sha256sum layer/layer.tar | /usr/bin/cut -d' ' -f1)
printf '{"architecture":"%s","os":"linux","config":{"Entrypoint":["/etc/hello"],"Labels":{"nonce":"%s"}},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$arch" "$nonce" "$diff" > config.json
cfg=$(/usr/bin/sha256sum config.json | /usr/bin/cut -d' ' -f1)
/bin/mv config.json "$cfg.json"
printf '[{"Config":"%s.json","RepoTags":["nixify-test:%s"],"Layers":["layer/layer.tar"]}]' "$cfg" "$arch" > manifest.json
/bin/tar --mtime=@1 --owner=0 --group=0 --numeric-owner -cf "$out" "$cfg.json" layer/layer.tar manifest.json
