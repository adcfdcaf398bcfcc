# A flake without inputs that builds images shaped like nixpkgs' dockerTools ones, for tests of the
# code that reads them: a small closure of real store paths (tool refers to greeting), a
# docker-archive with one layer per store path of that closure and a history entry naming it, and
# a stream script that writes the archive to stdout. Builders are the host's /bin/sh and tools
# (Nix runs without a sandbox in the tests); nixpkgs cannot be fetched here. The test writes ./nonce.
#
# app-layered and app-stream are the same kind of image around a closure shaped like nixpkgs'
# packages, for the SBOM tests: libfoo has pname, version, a fixed-output source with a URL and
# meta (licence, homepage), app refers to it and carries ./gobin (a Go binary the test copies in)
# as bin/nixify-init. The test may write ./version to change libfoo's version.
{
  outputs = { self }:
    let
      system = "x86_64-linux";
      nonce = if builtins.pathExists ./nonce then builtins.readFile ./nonce else "";
      greeting = derivation {
        name = "greeting";
        inherit system nonce;
        builder = "/bin/sh";
        args = [ "-c" "/bin/mkdir $out && /bin/echo \"hello $nonce\" > $out/hello" ];
      };
      tool = derivation {
        name = "tool";
        inherit system nonce greeting;
        builder = "/bin/sh";
        args = [ "-c" "/bin/mkdir -p $out/bin && /bin/echo \"#!/bin/sh\" > $out/bin/tool && /bin/echo \"exec /bin/cat $greeting/hello\" >> $out/bin/tool && /bin/chmod +x $out/bin/tool" ];
      };
      layered = derivation {
        name = "layered-image.tar";
        inherit system nonce tool;
        arch = "amd64";
        # The closure of tool, as nixpkgs' closureInfo reads it.
        exportReferencesGraph = [ "closure" tool ];
        builder = "/bin/sh";
        args = [ ./build-layered.sh ];
      };
      # Like nixpkgs' mkDerivation: meta stays out of the derivation's environment.
      mk = args: (derivation ({ inherit system nonce; builder = "/bin/sh"; } // removeAttrs args [ "meta" ])) // { meta = args.meta or { }; };
      version = if builtins.pathExists ./version then builtins.readFile ./version else "1.0";
      libfoo = mk {
        name = "libfoo-${version}";
        pname = "libfoo";
        inherit version;
        # A fixed-output source, as fetchurl writes it (its content does not depend on the nonce).
        src = derivation {
          name = "libfoo-${version}.tar";
          inherit system;
          builder = "/bin/sh";
          url = "https://example.org/libfoo-${version}.tar";
          outputHashMode = "flat";
          outputHashAlgo = "sha256";
          outputHash = "sha256-nB5dtRNKFC9zG1N8SayMTCrxe35XfED/YwUEQUw87bM=";
          args = [ "-c" "/bin/echo libfoo source > $out" ];
        };
        args = [ "-c" "/bin/mkdir -p $out/lib && /bin/cp $src $out/lib/libfoo" ];
        meta = { license = { spdxId = "MIT"; }; homepage = "https://example.org/libfoo"; description = "a library"; };
      };
      app = mk {
        name = "app-2.0";
        pname = "app";
        version = "2.0";
        inherit libfoo;
        gobin = if builtins.pathExists ./gobin then ./gobin else "";
        buildInputs = [ libfoo ];
        args = [ "-c" "/bin/mkdir -p $out/bin && /bin/echo \"#!/bin/sh\" > $out/bin/app && /bin/echo \"exec /bin/cat $libfoo/lib/libfoo\" >> $out/bin/app && /bin/chmod +x $out/bin/app && if [ -n \"$gobin\" ]; then /bin/cp $gobin $out/bin/nixify-init; fi" ];
        meta = { license = [ { spdxId = "Apache-2.0"; } ]; homepage = "https://example.org/app"; };
      };
      appLayered = (derivation {
        name = "app-layered-image.tar";
        inherit system nonce;
        tool = app;
        arch = "amd64";
        exportReferencesGraph = [ "closure" app ];
        builder = "/bin/sh";
        args = [ ./build-layered.sh ];
      }) // { passthru.contents = [ app ]; };
    in
    {
      packages.${system} = {
        inherit greeting tool layered libfoo app;
        app-layered = appLayered;
        app-stream = (derivation {
          name = "stream-app-layered-image";
          inherit system nonce;
          layered = appLayered;
          builder = "/bin/sh";
          args = [ "-c" "/bin/echo '#!/bin/sh' > $out && /bin/echo \"exec /bin/cat $layered\" >> $out && /bin/chmod +x $out" ];
        }) // { passthru.contents = [ app ]; };
        layered-stream = derivation {
          name = "stream-layered-image";
          inherit system nonce layered;
          builder = "/bin/sh";
          args = [ "-c" "/bin/echo '#!/bin/sh' > $out && /bin/echo \"exec /bin/cat $layered\" >> $out && /bin/chmod +x $out" ];
        };
      };
    };
}
