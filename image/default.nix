# The nixify image: nixify-init as PID 1 supervising PostgreSQL, Redis and Garage, with its
# health server on port 80. `components` are the programs of image/components.nix for the image's
# architecture `arch` (each also a flake output of its own). dockerTools always comes from the
# building host, so the stream script runs where it is built. BENCHMARKS.md lists every store path
# the image holds and what it weighs; the workflow fails when it outgrows image/budget.nix's 60 MiB.
{ dockerTools
, runCommand
, components
, arch # x86_64 or aarch64
, version
, revision
, lastModified # seconds since 1970 of the flake's commit: the image's creation time
, source ? "https://github.com/nixify/nixify"
}:
let
  etc = import ./users.nix { inherit runCommand; };
  architecture = { x86_64 = "amd64"; aarch64 = "arm64"; }.${arch};
  created = import ./time.nix lastModified;

  ports = import ./ports.nix;
  contents = with components; [ nixify-init postgresql redis garage busybox etc ];
in
dockerTools.streamLayeredImage {
  name = "nixify-health-check";
  tag = version;
  inherit architecture;
  # The commit time, not 1970. stream_layered_image.py parses `created` with
  # datetime.fromisoformat (or takes "now"), so it must be an ISO 8601 date, not @SECONDS.
  inherit created;
  inherit contents;
  # dockerTools does not keep its contents: nixify build reads the packages' meta (licence,
  # homepage) for the SBOM from here.
  passthru = { inherit contents; };
  # Directories the services need; ownership is set below, under fakeroot.
  extraCommands = ''
    mkdir -p data run/postgresql tmp var/lib/postgresql var/lib/redis var/lib/garage
    chmod 1777 tmp
  '';
  enableFakechroot = true;
  fakeRootCommands = ''
    chown 70:70 /run/postgresql /var/lib/postgresql
    chown 6379:6379 /var/lib/redis
    chown 3900:3900 /var/lib/garage
  '';
  config = {
    Entrypoint = [ "/bin/nixify-init" ];
    ExposedPorts = builtins.listToAttrs (map (p: { name = "${toString p.port}/tcp"; value = { }; }) ports);
    Env = [
      "PATH=/bin"
      "REDIS_HOST=127.0.0.1"
      "REDIS_PORT=6379"
      "PG_HOST=127.0.0.1"
      "PG_PORT=5432"
      "POSTGRES_USER=postgres"
      "POSTGRES_DB=postgres"
      "APP_PORT=80"
      "NIXIFY_DATA_DIR=/data"
      "NIXIFY_SERVICES=postgres,redis,garage"
      "GARAGE_BUCKET=nixify"
    ];
    Volumes = { "/data" = { }; };
    WorkingDir = "/data";
    StopSignal = "SIGTERM";
    Healthcheck = {
      Test = [ "CMD" "/bin/nixify-init" "healthcheck" ];
      # Docker counts in nanoseconds.
      Interval = 10 * 1000000000;
      Timeout = 5 * 1000000000;
      StartPeriod = 60 * 1000000000;
      Retries = 3;
    };
    Labels = {
      "org.opencontainers.image.source" = source;
      "org.opencontainers.image.revision" = revision;
      "org.opencontainers.image.version" = version;
      "org.opencontainers.image.created" = created;
      "org.opencontainers.image.title" = "nixify-health-check";
      "org.opencontainers.image.description" =
        "PostgreSQL, Redis and Garage under the nixify-init supervisor, with a health API on port 80";
      "org.opencontainers.image.licenses" = "MIT";
    } // builtins.listToAttrs (map (p: { name = "io.nixify.port.${toString p.port}"; value = p.what; }) ports);
  };
}
