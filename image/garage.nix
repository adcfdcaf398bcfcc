# Garage for the image: Garage 2 (nixify-init speaks its v2 admin API) with only the features
# nixify-init configures: LMDB metadata, the admin API's metrics, bundled C libraries. No Consul or
# Kubernetes discovery, OpenTelemetry export, journald or syslog, K2V, fjall or SQLite. No
# `cargo test` (Garage's own suite roughly doubles the compile). Garage's release profile already
# builds with LTO, one codegen unit, opt-level "s" and strip.
#
# It is linked against musl dynamically, like the rest of the image: a fully static Garage
# (pkgsStatic) needs a Rust toolchain for the static musl target, which the public binary cache does
# not hold, so every cold build would compile rustc (more than an hour on a 4-core runner). The
# cross toolchain this uses is the one nixpkgs' cross jobs build for musl.
{ garage }:
garage.overrideAttrs (old: {
  cargoBuildNoDefaultFeatures = true;
  cargoBuildFeatures = [ "bundled-libs" "lmdb" "metrics" ];
  doCheck = false;
})
