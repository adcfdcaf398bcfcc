# Writes to $out a docker-archive of $arch with one layer per store path of the closure Nix wrote to
# ./closure (exportReferencesGraph), sorted by path, each with a history entry naming its store path
# as nixpkgs' streamLayeredImage writes it. Absolute paths: Nix gives builders PATH=/path-not-set.
set -eu
nonce=$(printf %s "$nonce" | /usr/bin/tr -d '\n"\\')
# closure holds, per path: the path, its deriver, a count, then that many references.
paths=
while read -r p; do
  read -r deriver
  read -r n
  i=0
  while [ "$i" -lt "$n" ]; do read -r ref; i=$((i + 1)); done
  paths="$paths $p"
done < closure
paths=$(printf '%s\n' $paths | /usr/bin/sort -u)
diffs= history= layers= i=0
for p in $paths; do
  i=$((i + 1))
  /bin/mkdir "$i"
  /bin/tar --sort=name --mtime=@1 --owner=0 --group=0 --numeric-owner -C / -cf "$i/layer.tar" "${p#/}"
  d=$(/usr/bin/sha256sum "$i/layer.tar" | /usr/bin/cut -d' ' -f1)
  diffs="$diffs${diffs:+,}\"sha256:$d\""
  history="$history${history:+,}{\"created\":\"1970-01-01T00:00:01Z\",\"comment\":\"store paths: ['$p']\"}"
  layers="$layers${layers:+,}\"$i/layer.tar\""
done
printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:01Z","config":{"Entrypoint":["%s/bin/tool"],"Labels":{"nonce":"%s"}},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[%s]}' \
  "$arch" "$tool" "$nonce" "$diffs" "$history" > config.json
cfg=$(/usr/bin/sha256sum config.json | /usr/bin/cut -d' ' -f1)
/bin/mv config.json "$cfg.json"
printf '[{"Config":"%s.json","RepoTags":["nixify-layered-test:%s"],"Layers":[%s]}]' "$cfg" "$arch" "$layers" > manifest.json
# Layers first, config and manifest last, as streamLayeredImage orders them.
/bin/tar --mtime=@1 --owner=0 --group=0 --numeric-owner -cf "$out" $(/usr/bin/seq 1 "$i") "$cfg.json" manifest.json
