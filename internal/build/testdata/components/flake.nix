# A flake shaped like the image's component outputs, for the workflow's components.sh: an
# aggregate packages.x86_64-linux.image-components-x86_64 with members, a budget and levers (as
# image/outputs.nix makes it), and one output per member. alpha and beta share a library; with
# ./fail present gamma's own build fails and delta's toolchain does; with ./slow present epsilon
# says "sleeping" and takes 30 seconds. Builders are the host's
# /bin/sh and coreutils (no sandbox in the tests); ./nonce makes the store paths the test's own.
{
  outputs = { self }:
    let
      system = "x86_64-linux";
      nonce = if builtins.pathExists ./nonce then builtins.readFile ./nonce else "";
      fail = builtins.pathExists ./fail;
      slow = builtins.pathExists ./slow;
      # A derivation whose output holds `bytes` zero bytes and refers to `deps`.
      blob = name: bytes: deps: derivation {
        inherit name system nonce deps;
        builder = "/bin/sh";
        args = [ "-c" ''
          echo "building ${name}"
          /bin/mkdir $out
          /usr/bin/head -c ${toString bytes} /dev/zero > $out/data
          echo "$deps" > $out/deps
          echo "built ${name}"
        '' ];
      };
      failing = name: derivation {
        inherit name system nonce;
        builder = "/bin/sh";
        args = [ "-c" "echo 'compiling ${name}'; echo 'error: it does not compile' >&2; exit 3" ];
      };
      shared = blob "libshared-1.0" 2097152 [ ];
      toolchain = if fail then failing "toolchain-1.0" else blob "toolchain-1.0" 10 [ ];
      members = {
        alpha = blob "alpha-1.2.3" 3145728 [ shared ];
        beta = blob "beta-2.0" 1048576 [ shared ];
        gamma = if fail then failing "gamma-0.1" else blob "gamma-0.1" 10 [ ];
        epsilon = derivation {
          name = "epsilon-5";
          inherit system nonce;
          builder = "/bin/sh";
          args = [ "-c" (if slow then "echo sleeping; /bin/sleep 30; /bin/mkdir $out" else "/bin/mkdir $out") ];
        };
        delta = derivation {
          name = "delta-4";
          inherit system nonce;
          builder = "/bin/sh";
          args = [ "-c" "/bin/mkdir $out; echo ${toolchain} > $out/built-with" ];
        };
      };
      budget = {
        maxMiB = 60;
        levers = { alpha = "make alpha smaller"; beta = "make beta smaller"; shared = "share less"; };
      };
      aggregate = derivation {
        name = "nixify-image-components-x86_64";
        inherit system nonce;
        builder = "/bin/sh";
        args = [ "-c" "/bin/mkdir $out" ];
      } // { inherit members budget; arch = "x86_64"; };
    in
    {
      packages.${system} = {
        image-components-x86_64 = aggregate;
      } // builtins.listToAttrs (map (n: { name = "${n}-x86_64"; value = members.${n}; }) (builtins.attrNames members));
    };
}
