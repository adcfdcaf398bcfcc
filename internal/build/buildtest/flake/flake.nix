# A flake without inputs that builds images shaped like nixpkgs' dockerTools ones, for tests of the
# code that reads them: a small closure of real store paths (tool refers to greeting), a
# docker-archive with one layer per store path of that closure and a history entry naming it, and
# a stream script that writes the archive to stdout. Builders are the host's /bin/sh and tools
# (Nix runs without a sandbox in the tests); nixpkgs cannot be fetched here. The test writes ./nonce.
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
    in
    {
      packages.${system} = {
        inherit greeting tool layered;
        layered-stream = derivation {
          name = "stream-layered-image";
          inherit system nonce layered;
          builder = "/bin/sh";
          args = [ "-c" "/bin/echo '#!/bin/sh' > $out && /bin/echo \"exec /bin/cat $layered\" >> $out && /bin/chmod +x $out" ];
        };
      };
    };
}
