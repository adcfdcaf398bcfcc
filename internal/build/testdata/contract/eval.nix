# Evaluates the repository's flake against the nixpkgs stand-in and reduces its outputs to plain
# data for the image contract test.
{ root }:
let
  nixpkgs = import ./nixpkgs-stand-in.nix;
  # flake.nix pins nixpkgs with builtins.getFlake; the stand-in goes to image/outputs.nix directly
  # (the test checks flake.nix's pin as text). The source is the repository itself, so the Go
  # programs' filtered source can be listed.
  self = outputs // { rev = "0123456789abcdef0123456789abcdef01234567"; lastModified = 1700000000; outPath = root; };
  outputs = import (root + "/image/outputs.nix") { inherit self nixpkgs; };

  content = c: {
    inherit (c) name hostSystem buildSystem musl static;
    goArgs = if c ? goArgs then c.goArgs // { src = builtins.attrNames (builtins.readDir c.goArgs.src); } else null;
    attrs = if c ? attrs then removeAttrs c.attrs [ "src" "meta" ] else null;
    goVersion = c.goVersion or null;
    version = c.version or null;
    overridden = c.overridden or null;
    env = c.env or null;
  };
  image = drv: {
    inherit (drv) buildSystem;
    args = drv.imageArgs // { contents = map content drv.imageArgs.contents; };
  };
in
builtins.mapAttrs
  (system: pkgs: {
    images = builtins.mapAttrs (_: image) (removeAttrs pkgs [ "nixify" "nixify-init" "default" ]);
    nixify = content pkgs.nixify;
    app = outputs.apps.${system}.default;
    shell = map (p: p.name) outputs.devShells.${system}.default.shellArgs.packages;
  })
  outputs.packages
