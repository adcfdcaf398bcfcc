{
  description = "nixify: a self-contained PostgreSQL + Redis + Garage image with a health API, built with Nix";

  # One pinned revision: a lock file cannot be produced offline where this was written, so the
  # revision lives in the URL.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/181cc43ccd0e585499a05eff87a6dd38ce600fd9";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);

      version = "0.1.0";
      revision = self.rev or self.dirtyRev or "dirty";
      lastModified = self.lastModified or 1;
      date = import ./image/time.nix lastModified;
      src = self;

      # Builds nixify's Go programs for the package set `target`.
      goProgram = target: subPackage: import ./image/nixify.nix {
        # go.mod asks for Go 1.26.0 and buildGoModule sets GOTOOLCHAIN=local; at the pinned revision
        # plain buildGoModule is still Go 1.25, so name the 1.26 builder and fail loudly without it.
        buildGoModule = target.buildGo126Module;
        inherit src version revision date subPackage;
      };

      # The image whose programs come from `target`, assembled by the host's dockerTools.
      image = pkgs: target: import ./image {
        inherit (pkgs) dockerTools runCommand;
        inherit target version revision lastModified;
        nixify-init = goProgram target "cmd/nixify-init";
      };

      # For each host, the other architecture cross-compiled (musl), without emulation.
      cross = {
        x86_64-linux = { arch = "aarch64"; set = pkgs: pkgs.pkgsCross.aarch64-multiplatform-musl; };
        aarch64-linux = { arch = "x86_64"; set = pkgs: pkgs.pkgsCross.musl64; };
      };
    in
    {
      packages = forAll (system:
        let
          pkgs = nixpkgs.legacyPackages.${system};
          c = cross.${system};
        in
        {
          docker-image-static = image pkgs pkgs;
          "docker-image-static-cross-${c.arch}" = image pkgs (c.set pkgs);
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
    };
}
