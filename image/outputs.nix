# The flake's outputs: for each system, the image of its own architecture, the other architecture's
# image cross-compiled, each component of both, and the nixify and nixify-init programs. flake.nix
# passes the pinned nixpkgs.
{ self, nixpkgs }:
let
  systems = [ "x86_64-linux" "aarch64-linux" ];
  forAll = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);

  version = "0.1.0";
  revision = self.rev or self.dirtyRev or "dirty";
  lastModified = self.lastModified or 1;
  date = import ./time.nix lastModified;

  # Only what the Go programs are built from: a change to the docs, the workflows or image/ does
  # not rebuild nixify-init (nor its layer), and a Go change rebuilds nothing else.
  root = toString self.outPath;
  src = builtins.path {
    name = "nixify-go-source";
    path = self.outPath;
    filter = path: _type:
      let rel = builtins.substring (builtins.stringLength root + 1) 1000000 (toString path);
      in builtins.elem (builtins.head (builtins.split "/" rel)) [ "go.mod" "go.sum" "cmd" "internal" "pkg" ];
  };

  # nixify's Go programs for architecture `arch`, always from the host package set's Go (`pkgs` is
  # the building system's set), which cross-compiles by itself (image/nixify.nix).
  goProgram = pkgs: arch: subPackage: import ./nixify.nix {
    # go.mod asks for Go 1.26.0 and buildGoModule sets GOTOOLCHAIN=local; at the pinned revision
    # plain buildGoModule is still Go 1.25, so name the 1.26 builder and fail loudly without it.
    buildGoModule = pkgs.buildGo126Module;
    goarch = { x86_64 = "amd64"; aarch64 = "arm64"; }.${arch};
    inherit src version revision date subPackage;
  };

  # The musl package set of each architecture, built by the host's glibc toolchain.
  musl = {
    x86_64 = pkgs: pkgs.pkgsCross.musl64;
    aarch64 = pkgs: pkgs.pkgsCross.aarch64-multiplatform-musl;
  };

  archs = [ "x86_64" "aarch64" ];
  # For each host, the other architecture (built without emulation).
  other = { x86_64-linux = "aarch64"; aarch64-linux = "x86_64"; };
  archOf = system: builtins.head (builtins.split "-" system);

  # Everything one system's outputs are made of, per image architecture.
  perSystem = system:
    let
      pkgs = nixpkgs.legacyPackages.${system};
      components = builtins.listToAttrs (map
        (arch: {
          name = arch;
          value = import ./components.nix {
            target = musl.${arch} pkgs;
            nixify-init = goProgram pkgs arch "cmd/nixify-init";
          };
        })
        archs);
      # The image of architecture `arch`, assembled by the host's dockerTools.
      image = arch: import ./. {
        inherit (pkgs) dockerTools runCommand;
        inherit arch version revision lastModified;
        components = components.${arch};
      };
      # All of one architecture's components in one output, and what the workflow reads about
      # them: the members and the budget with its levers (image/budget.nix).
      allOf = arch: pkgs.runCommand "nixify-image-components-${arch}"
        {
          passthru = { members = components.${arch}; budget = import ./budget.nix; inherit arch; };
        }
        (''
          mkdir $out
        '' + builtins.concatStringsSep "" (builtins.attrValues (builtins.mapAttrs
          (name: drv: ''
            ln -s ${drv} $out/${name}
          '')
          components.${arch})));
    in
    {
      packages = {
        docker-image-static = image (archOf system);
        "docker-image-static-cross-${other.${system}}" = image other.${system};
        nixify = goProgram pkgs (archOf system) "cmd/nixify";
        nixify-init = components.${archOf system}.nixify-init;
        default = self.packages.${system}.nixify;
      } // builtins.listToAttrs (builtins.concatMap
        (arch:
          [{ name = "image-components-${arch}"; value = allOf arch; }]
          ++ map (name: { name = "${name}-${arch}"; value = components.${arch}.${name}; })
            (builtins.attrNames components.${arch}))
        archs);
    };
in
{
  # Per system: the image of its own architecture, the other architecture's image cross-compiled,
  # each architecture's components (postgresql-x86_64, garage-aarch64, ...: image/components.nix)
  # and all of them together (image-components-<arch>), and the nixify and nixify-init programs.
  packages = forAll (system: (perSystem system).packages);

  apps = forAll (system: {
    default = { type = "app"; program = "${self.packages.${system}.nixify}/bin/nixify"; };
    nixify = self.apps.${system}.default;
  });

  # Go and the programs the tests talk to.
  devShells = forAll (system:
    let pkgs = nixpkgs.legacyPackages.${system}; in
    {
      default = pkgs.mkShell {
        packages = [
          pkgs.go_1_26
          pkgs.gopls
          pkgs.nix
          pkgs.postgresql_16
          pkgs.redis
          pkgs.skopeo
          pkgs.distribution
          pkgs.apacheHttpd # htpasswd
          pkgs.hyperfine
          pkgs.wrk
          pkgs.qemu
          pkgs.git
        ];
      };
    });
}
