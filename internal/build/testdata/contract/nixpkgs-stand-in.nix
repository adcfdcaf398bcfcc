# A stand-in for the few parts of nixpkgs that flake.nix and image/ call, for the image contract
# test: it builds nothing. Every package is a fake derivation that remembers the package set it
# came from (host system, musl, static) and the arguments it was given, and
# dockerTools.streamLayeredImage returns the arguments it was called with.
let
  fake = name: attrs: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  } // attrs;

  pkgsFor = { system, buildSystem ? system, musl ? false, static ? false }:
    let
      from = { hostSystem = system; inherit buildSystem musl static; };
      pkg = name: fake name from;
      goModule = args: fake args.pname (from // { goArgs = args; });
    in
    {
      stdenv.hostPlatform = { inherit system; isAarch64 = system == "aarch64-linux"; isMusl = musl || static; isStatic = static; };
      pkgsStatic = pkgsFor { inherit system buildSystem; static = true; };
      pkgsMusl = pkgsFor { inherit system buildSystem; musl = true; };
      pkgsCross = {
        aarch64-multiplatform-musl = pkgsFor { system = "aarch64-linux"; buildSystem = system; musl = true; };
        musl64 = pkgsFor { system = "x86_64-linux"; buildSystem = system; musl = true; };
      };

      redis = pkg "redis";
      garage = pkg "garage";
      busybox = pkg "busybox";
      postgresql_16 = pkg "postgresql" // { override = args: fake "postgresql" (from // { overridden = args; }); };
      buildGo126Module = goModule;
      buildGoModule = goModule;
      runCommand = name: env: script: fake name (from // { inherit env script; });
      dockerTools.streamLayeredImage = args: fake "stream-${args.name}" (from // { imageArgs = args; });
      mkShell = args: fake "shell" (from // { shellArgs = args; });

      go_1_26 = pkg "go";
      gopls = pkg "gopls";
      nix = pkg "nix";
      skopeo = pkg "skopeo";
      distribution = pkg "distribution";
      apacheHttpd = pkg "apache-httpd";
      hyperfine = pkg "hyperfine";
      wrk = pkg "wrk";
      qemu = pkg "qemu";
      git = pkg "git";
    };
in
{
  legacyPackages = {
    x86_64-linux = pkgsFor { system = "x86_64-linux"; };
    aarch64-linux = pkgsFor { system = "aarch64-linux"; };
  };
}
