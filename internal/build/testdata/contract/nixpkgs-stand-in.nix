# A stand-in for the few parts of nixpkgs that flake.nix and image/ call, for the image contract
# test: it builds nothing. Every package is a fake derivation that remembers the package set it
# came from (host system, musl, static) and the arguments it was given, and
# dockerTools.streamLayeredImage returns the arguments it was called with.
#
# Where real nixpkgs (at the revision flake.nix pins, 181cc43c) rejects something, the stand-in
# rejects it too, so the test fails the way the real evaluation or build would:
# - streamLayeredImage and postgresql's override take exactly the arguments the real functions
#   declare (no `...`), so a misspelt or missing argument is an evaluation error;
# - `created`/`mtime` must be what stream_layered_image.py accepts: "now" or an ISO 8601 date
#   (it calls datetime.fromisoformat);
# - `garage` is Garage 1 and `garage_2` is Garage 2, as in pkgs/tools/filesystems/garage;
# - buildGoModule is Go 1.25 there (1.26.0 had just landed as go_1_26) and buildGo126Module Go 1.26;
# - redis's override takes the arguments pkgs/by-name/re/redis/package.nix declares (no `...`), and
#   overrideAttrs functions see the attributes that file sets (makeFlags, postInstall, doCheck);
# - postgresql_16 carries `version` and `src` (the pinned source image/postgresql.nix builds).
let
  fake = name: attrs: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    drvPath = "/nix/store/00000000000000000000000000000000-${name}.drv";
  } // attrs;

  # stream_layered_image.py: parse_time(s) = now if s == "now" else datetime.fromisoformat(s).
  isoDate = "[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?";
  checkTime = what: s:
    if s == "now" || builtins.match isoDate s != null then s
    else throw "streamLayeredImage: ${what} = \"${s}\" is not \"now\" or an ISO 8601 date (datetime.fromisoformat)";

  # The *Support flags of pkgs/servers/sql/postgresql/generic.nix (present both before and after
  # the pinned revision); generic.nix has no `...`, so any other name is an error.
  postgresqlFlags = [
    "bonjourSupport" "gssSupport" "icuSupport" "jitSupport" "ldapSupport" "nlsSupport"
    "pamSupport" "perlSupport" "pythonSupport" "selinuxSupport" "systemdSupport" "tclSupport"
  ];

  # The arguments of pkgs/by-name/re/redis/package.nix (8.0.3 at 02d79c9c; apple-sdk from 8.6).
  redisArgs = [
    "lib" "stdenv" "fetchFromGitHub" "fetchpatch2" "apple-sdk" "lua" "jemalloc" "pkg-config" "nixosTests" "tcl"
    "which" "ps" "getconf" "systemd" "openssl" "python3" "nix-update-script" "versionCheckHook"
    "withSystemd" "tlsSupport" "useSystemJemalloc"
  ];

  # A derivation whose attributes overrideAttrs can change, as mkDerivation's can.
  withAttrs = name: from: attrs:
    fake name (from // { inherit attrs; overrideAttrs = f: withAttrs name from (attrs // f attrs); });

  pkgsFor = { system, buildSystem ? system, musl ? false, static ? false }:
    let
      from = { hostSystem = system; inherit buildSystem musl static; };
      pkg = name: fake name from;
      goModule = goVersion: args: fake args.pname (from // { goArgs = args; inherit goVersion; });
      buildPackages = pkgsFor { system = buildSystem; };
    in
    {
      stdenv = {
        hostPlatform = { inherit system; isAarch64 = system == "aarch64-linux"; isMusl = musl || static; isStatic = static; };
        buildPlatform = { system = buildSystem; };
        cc = pkg "gcc-wrapper";
        mkDerivation = args: withAttrs args.pname from args;
      };
      inherit buildPackages;
      bison = pkg "bison";
      flex = pkg "flex";
      perl = pkg "perl";
      removeReferencesTo = pkg "remove-references-to";
      tzdata = pkg "tzdata" // { bin = pkg "tzdata-bin"; };
      zlib = pkg "zlib" // { dev = pkg "zlib-dev"; };
      icu = pkg "icu4c";
      pkgsStatic = pkgsFor { inherit system buildSystem; static = true; };
      pkgsMusl = pkgsFor { inherit system buildSystem; musl = true; };
      pkgsCross = {
        aarch64-multiplatform-musl = pkgsFor { system = "aarch64-linux"; buildSystem = system; musl = true; };
        musl64 = pkgsFor { system = "x86_64-linux"; buildSystem = system; musl = true; };
      };

      redis = pkg "redis" // {
        override = args:
          let unknown = builtins.filter (n: !builtins.elem n redisArgs) (builtins.attrNames args); in
          if unknown != [ ] then throw "redis package.nix called with unexpected argument(s) ${toString unknown}"
          else withAttrs "redis" (from // { overridden = args; }) { makeFlags = [ "PREFIX=/out" ]; doCheck = true; };
      };
      garage_1 = pkg "garage" // { version = "1"; };
      garage_2 = withAttrs "garage" (from // { version = "2"; }) {
        cargoBuildFeatures = [ "bundled-libs" "consul-discovery" "fjall" "journald" "k2v" "kubernetes-discovery" "lmdb" "metrics" "sqlite" "syslog" "telemetry-otlp" ];
        doCheck = true;
      };
      garage = pkg "garage" // { version = "1"; };
      busybox = pkg "busybox";
      postgresql_16 = pkg "postgresql" // {
        version = "16.11";
        src = pkg "source";
        override = args:
          let unknown = builtins.filter (n: !builtins.elem n postgresqlFlags) (builtins.attrNames args); in
          if unknown != [ ] then throw "postgresql generic.nix called with unexpected argument(s) ${toString unknown}"
          else fake "postgresql" (from // { overridden = args; });
      };
      buildGo126Module = goModule "1.26";
      buildGoModule = goModule "1.25";
      # passthru's attributes land on the derivation, as mkDerivation puts them.
      runCommand = name: env: script: fake name (from // { inherit env script; } // (env.passthru or { }));
      dockerTools.streamLayeredImage =
        { name
        , tag ? null
        , fromImage ? null
        , contents ? [ ]
        , config ? { }
        , architecture ? "amd64"
        , created ? "1970-01-01T00:00:01Z"
        , mtime ? "1970-01-01T00:00:01Z"
        , uid ? 0
        , gid ? 0
        , uname ? "root"
        , gname ? "root"
        , maxLayers ? 100
        , extraCommands ? ""
        , fakeRootCommands ? ""
        , enableFakechroot ? false
        , includeStorePaths ? true
        , includeNixDB ? false
        , passthru ? { }
        , meta ? { }
        }@args:
        assert checkTime "created" created == created;
        assert checkTime "mtime" mtime == mtime;
        fake "stream-${name}" (from // { imageArgs = args; });
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
