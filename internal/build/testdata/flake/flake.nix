# A flake without inputs for nixify's build tests. Every builder is /bin/sh from the host (Nix runs
# without a sandbox here), so it builds offline in well under a second. The test writes ./nonce to
# force fresh builds, and ./arm64-builder (a static arm64 Go program) for the emulated build.
{
  outputs = { self }:
    let
      nonce = if builtins.pathExists ./nonce then builtins.readFile ./nonce else "";
      pidfile = if builtins.pathExists ./pidfile then builtins.readFile ./pidfile else "/dev/null";

      # A docker-archive tarball, as buildLayeredImage makes one.
      archive = system: arch: derivation {
        name = "test-image-${arch}.tar";
        inherit system arch nonce;
        builder = "/bin/sh";
        args = [ ./build-archive.sh ];
      };

      # A stream script, as streamLayeredImage makes one: it writes the archive to stdout.
      stream = system: arch: derivation {
        name = "stream-test-image-${arch}";
        inherit system nonce;
        archive = archive system arch;
        builder = "/bin/sh";
        args = [ "-c" "/bin/echo '#!/bin/sh' > $out && /bin/echo \"exec /bin/cat $archive\" >> $out && /bin/chmod +x $out" ];
      };
    in
    {
      packages.x86_64-linux = {
        image = archive "x86_64-linux" "amd64";
        stream = stream "x86_64-linux" "amd64";
        image-cross-aarch64 = archive "x86_64-linux" "arm64";

        # Logs one line every 0.2 s for a minute; writes its process id where ./pidfile says.
        slow = derivation {
          name = "slow";
          system = "x86_64-linux";
          inherit nonce pidfile;
          builder = "/bin/sh";
          args = [ "-c" "echo $$ > $pidfile; i=0; while [ $i -lt 300 ]; do echo \"slow line $i\"; i=$((i+1)); /bin/sleep 0.2; done; echo > $out" ];
        };

        # Fails after 30 coloured log lines.
        broken = derivation {
          name = "broken";
          system = "x86_64-linux";
          inherit nonce;
          builder = "/bin/sh";
          args = [ "-c" "i=1; while [ $i -le 30 ]; do printf '\\033[31mbroken line %d\\033[0m\\n' $i; i=$((i+1)); done; exit 2" ];
        };

        # Not an image: a directory.
        notimage = derivation {
          name = "notimage";
          system = "x86_64-linux";
          builder = "/bin/sh";
          args = [ "-c" "/bin/mkdir $out" ];
        };
      };

      # Built by an aarch64 executable: it runs only under emulation (binfmt qemu-aarch64), and
      # records the machine it saw in the image's labels.
      packages.aarch64-linux = if builtins.pathExists ./arm64-builder then {
        image = derivation {
          name = "test-image-arm64.tar";
          system = "aarch64-linux";
          inherit nonce;
          builder = ./arm64-builder;
        };
      } else { };
    };
}
