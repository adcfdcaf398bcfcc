# PostgreSQL for the image, built here from the source nixpkgs pins for postgresql_16 rather than by
# nixpkgs' generic.nix: generic.nix switches to an LLVM/clang stdenv whenever the compiler is gcc
# (since nixpkgs PR #391950), which for a musl target means compiling LLVM, clang and lld from
# source on every cold build, and it always links ICU, OpenSSL, libxml2 and readline. This is the
# same source built with the target's own gcc, with the flags in postgresql/configure-flags, the musl
# locale change in postgresql/prepare.sh (instead of the patch nixpkgs fetches from another
# distribution's git server) and the trimming in postgresql/trim.sh. bench/pgmusl/build.sh builds
# and runs this configuration with Debian's musl toolchain.
{ target }:
let
  upstream = target.postgresql_16;
  build = target.buildPackages;
  flags = builtins.filter (l: builtins.isString l && l != "" && builtins.substring 0 1 l != "#")
    (builtins.split "\n" (builtins.readFile ./postgresql/configure-flags));
  # zic compiles the time zone data during `make install`; a cross build cannot run the target's.
  cross = target.stdenv.buildPlatform.system != target.stdenv.hostPlatform.system;
in
target.stdenv.mkDerivation {
  pname = "postgresql";
  inherit (upstream) version src;

  # The pinned source is a git tree: the parser and catalog files are generated with these.
  nativeBuildInputs = [ build.bison build.flex build.perl build.removeReferencesTo ];
  buildInputs = [ target.zlib ];

  postPatch = "sh ${./postgresql/prepare.sh}";
  # The server exports its symbols for PL/pgSQL and the other modules it loads with dlopen;
  # configure cannot detect the flag when cross-compiling.
  configureFlags = flags ++ [ "LDFLAGS_EX_BE=-Wl,--export-dynamic" ];
  enableParallelBuilding = true;
  installFlags = if cross then [ "ZIC=${build.tzdata.bin or build.tzdata}/bin/zic" ] else [ ];
  postInstall = ''
    sh ${./postgresql/trim.sh} "$out"
    # The pg_config view records how the server was built; it must not keep the toolchain alive.
    remove-references-to -t ${target.stdenv.cc} -t ${target.zlib.dev or target.zlib} "$out"/bin/* "$out"/lib/*.so*
  '';

  # PostgreSQL's regression suite is upstream's test of upstream's code, not the image's; the
  # image's own tests run the server (e2e, bench/pgmusl).
  doCheck = false;
  doInstallCheck = false;
  stripAllList = [ "bin" ];
  # Budget guards: the build fails rather than ship a compiler, perl or ICU in the image.
  disallowedRequisites = [ target.stdenv.cc build.perl ] ++ (if target ? icu then [ target.icu ] else [ ]);

  meta = {
    description = "PostgreSQL server and everyday clients, trimmed for the nixify image";
    homepage = "https://www.postgresql.org";
    mainProgram = "postgres";
  } // (if upstream ? meta.license then { inherit (upstream.meta) license; } else { });
}
