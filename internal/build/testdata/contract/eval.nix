# Evaluates the repository's flake against the nixpkgs stand-in and reduces its outputs to plain
# data for the image contract test.
{ root }:
let
  flake = import (root + "/flake.nix");
  nixpkgs = import ./nixpkgs-stand-in.nix;
  self = outputs // { rev = "0123456789abcdef0123456789abcdef01234567"; lastModified = 1700000000; outPath = "/the-flake-source"; };
  outputs = flake.outputs { inherit self nixpkgs; };

  content = c: {
    inherit (c) name hostSystem musl static;
    goArgs = c.goArgs or null;
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
