# Evaluates the repository's real flake.nix against the nixpkgs stand-in and reduces its outputs to
# plain data for the image contract test. flake.nix fetches nixpkgs with builtins.getFlake; here
# that builtin hands over the stand-in instead, after checking that the reference is a full
# revision of nixpkgs (what a pin must be). The source is the repository itself, so the Go
# programs' filtered source can be listed.
{ root }:
let
  nixpkgs = import ./nixpkgs-stand-in.nix;
  getFlake = ref:
    if builtins.match "github:NixOS/nixpkgs/[0-9a-f]{40}" ref != null then nixpkgs
    else throw "flake.nix fetches ${ref}: want nixpkgs pinned by a full revision (github:NixOS/nixpkgs/<40 hex>)";
  flake = scopedImport { builtins = builtins // { inherit getFlake; }; } (root + "/flake.nix");
  self = outputs // { rev = "0123456789abcdef0123456789abcdef01234567"; lastModified = 1700000000; outPath = root; };
  outputs = flake.outputs { inherit self; };

  content = c: {
    inherit (c) name hostSystem buildSystem musl static;
    goArgs = if c ? goArgs then c.goArgs // { src = builtins.attrNames (builtins.readDir c.goArgs.src); } else null;
    attrs = if c ? attrs then removeAttrs c.attrs [ "src" "meta" ] else null;
    goVersion = c.goVersion or null;
    version = c.version or null;
    overridden = c.overridden or null;
    env = c.env or null;
    path = c.outPath; # (an attribute named outPath would turn the set into that string in JSON)
  };
  image = drv: {
    inherit (drv) buildSystem;
    args = drv.imageArgs // { contents = map content drv.imageArgs.contents; };
  };
  startsWith = prefix: s: builtins.substring 0 (builtins.stringLength prefix) s == prefix;
  pick = prefix: pkgs: builtins.listToAttrs (map (n: { name = n; value = pkgs.${n}; })
    (builtins.filter (startsWith prefix) (builtins.attrNames pkgs)));
in
{
  # A flake with inputs and no committed flake.lock is evaluated as dirty (or gets a lock file
  # written into the checkout): flake.nix has none, and its outputs take only self.
  flake = {
    attrs = builtins.attrNames flake;
    outputsArgs = builtins.functionArgs flake.outputs;
  };
  systems = builtins.mapAttrs
    (system: pkgs: {
      attrs = builtins.attrNames pkgs;
      images = builtins.mapAttrs (_: image) (pick "docker-image-static" pkgs);
      # Every output but the images and the aggregates, reduced like an image's contents.
      packages = builtins.mapAttrs (_: content)
        (removeAttrs pkgs (builtins.attrNames (pick "docker-image-static" pkgs) ++ builtins.attrNames (pick "image-components-" pkgs) ++ [ "default" ]));
      components = builtins.mapAttrs
        (_: agg: {
          inherit (agg) arch budget hostSystem;
          members = builtins.mapAttrs (_: d: d.outPath) agg.members;
          script = agg.script;
        })
        (pick "image-components-" pkgs);
      default = pkgs.default.outPath;
      app = outputs.apps.${system}.default;
      shell = map (p: p.name) outputs.devShells.${system}.default.shellArgs.packages;
    })
    outputs.packages;
}
