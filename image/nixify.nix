# nixify's Go programs: nixify-init for the image, nixify for people. Always built by the build
# host's own Go (the host package set's buildGoModule, never a musl or cross set's), which
# cross-compiles by itself: image/go-build.sh runs `go build` with GOOS=linux, GOARCH=`goarch` and
# CGO off, so the result is static for either architecture and no cross Go toolchain (nixpkgs
# configures the one of a musl target for external linking and PIE) is built or fetched. The
# version is stamped at link time.
{ buildGoModule, src, version, revision, date, subPackage, goarch }:
buildGoModule rec {
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
  # buildGoModule's own build phase builds for the package set's platform; this one names the
  # architecture. ldflags is the list above (plus buildGoModule's -buildid=), space-joined: a
  # string in the environment, or an array under structured attributes; ''${ldflags[*]} is both.
  buildPhase = ''
    runHook preBuild
    bash ${./go-build.sh} ${goarch} "$GOPATH/bin/${pname}" ./${subPackage} "''${ldflags[*]}"
    runHook postBuild
  '';
  # No PIE (a Go PIE needs the dynamic loader); go-build.sh insists on -buildmode=exe as well.
  hardeningDisable = [ "pie" ];
  # Already stripped by -s -w; the host's strip and patchelf have no business with the other
  # architecture's executable.
  dontStrip = true;
  dontPatchELF = true;
  doCheck = false; # the tests need real peers; they run in CI, not in the sandbox
  meta.mainProgram = pname;
}
