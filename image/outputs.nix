# The flake's outputs: for each system, the image of its own architecture, the other architecture's
# image cross-compiled, and the nixify and nixify-init programs. flake.nix passes the pinned nixpkgs.
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

  # Builds nixify's Go programs for the package set `target`.
  goProgram = target: subPackage: import ./nixify.nix {
    # go.mod asks for Go 1.26.0 and buildGoModule sets GOTOOLCHAIN=local; at the pinned revision
    # plain buildGoModule is still Go 1.25, so name the 1.26 builder and fail loudly without it.
    buildGoModule = target.buildGo126Module;
    inherit src version revision date subPackage;
  };

  # The musl package set of each architecture, built by the host's glibc toolchain.
  musl = {
    x86_64 = pkgs: pkgs.pkgsCross.musl64;
    aarch64 = pkgs: pkgs.pkgsCross.aarch64-multiplatform-musl;
  };

  # The image of architecture `arch`, assembled by the host's dockerTools.
  image = pkgs: arch:
    let target = musl.${arch} pkgs; in
    import ./. {
      inherit (pkgs) dockerTools runCommand;
      inherit target version revision lastModified;
      nixify-init = goProgram target "cmd/nixify-init";
    };

  # For each host, the other architecture (built without emulation).
  other = { x86_64-linux = "aarch64"; aarch64-linux = "x86_64"; };
  archOf = system: builtins.head (builtins.split "-" system);
in
{
  packages = forAll (system:
    let pkgs = nixpkgs.legacyPackages.${system}; in
    {
      docker-image-static = image pkgs (archOf system);
      "docker-image-static-cross-${other.${system}}" = image pkgs other.${system};
      nixify = goProgram pkgs "cmd/nixify";
      nixify-init = goProgram pkgs "cmd/nixify-init";
      default = self.packages.${system}.nixify;
    });

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
