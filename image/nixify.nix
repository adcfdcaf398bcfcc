# nixify's Go programs: nixify-init for the image, nixify for people. CGO off, so the result is
# static whatever the libc; the version is stamped at link time.
{ buildGoModule, src, version, revision, date, subPackage }:
buildGoModule {
  pname = baseNameOf subPackage;
  inherit version src;
  # Hash of the vendored modules; image/vendor-hash.sh recomputes it after go.mod changes.
  vendorHash = builtins.replaceStrings [ "\n" ] [ "" ] (builtins.readFile ./vendor-hash);
  subPackages = [ subPackage ];
  env.CGO_ENABLED = "0";
  ldflags = [
    "-s"
    "-w"
    "-X github.com/nixify/nixify/internal/version.Version=${version}"
    "-X github.com/nixify/nixify/internal/version.Commit=${revision}"
    "-X github.com/nixify/nixify/internal/version.Date=${date}"
  ];
  doCheck = false; # the tests need real peers; they run in CI, not in the sandbox
  meta.mainProgram = baseNameOf subPackage;
}
