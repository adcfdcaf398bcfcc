# The image's components for one architecture, each its own flake output
# (packages.<system>.<component>-<arch>) so that the workflow builds them side by side with
# --keep-going and one that fails does not stop the others. `target` is the musl package set of the
# image's architecture, built by the host's glibc toolchain (pkgsCross.musl64 or
# pkgsCross.aarch64-multiplatform-musl): the public binary cache holds those cross toolchains
# (nixpkgs' cross jobs build them), while a native musl or static set would compile its Rust
# toolchain and more from source. nixify-init comes from the host's Go (image/nixify.nix).
{ target, nixify-init }:
{
  inherit nixify-init;
  postgresql = import ./postgresql.nix { inherit target; };
  redis = import ./redis.nix { inherit (target) redis; };
  # nixpkgs' `garage` is still Garage 1.x; nixify talks to the v2 admin API (/v2/...), which only
  # Garage 2 has.
  garage = import ./garage.nix { garage = target.garage_2; };
  # initdb and pg_ctl run helpers through popen(): the image needs a /bin/sh.
  busybox = target.busybox;
}
