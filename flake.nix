{
  description = "nixify: a self-contained PostgreSQL + Redis + Garage image with a health API, built with Nix";

  # nixpkgs is pinned by revision inside the outputs rather than declared as an input. A flake with
  # inputs needs a committed flake.lock (which cannot be produced where this was written), and
  # without one every build either writes flake.lock into the checkout (the tree turns dirty) or,
  # with --no-write-lock-file, is evaluated as dirty: self.rev is gone and the image's revision
  # label says "dirty". A GitHub revision is content-addressed, so the pin is as exact as a lock.
  outputs = { self }: import ./image/outputs.nix {
    inherit self;
    nixpkgs = builtins.getFlake "github:NixOS/nixpkgs/181cc43ccd0e585499a05eff87a6dd38ce600fd9";
  };
}
