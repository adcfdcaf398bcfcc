package client

import (
	"strconv"

	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
)

// Psql is PostgreSQL's psql, logged in to the configured database as the configured role.
var Psql = Client{
	Name: "psql", Service: "postgres",
	Short: "Open psql in the running container, logged in",
	Long: `Run psql inside the container as the user postgres, connected over TCP to the configured
database (POSTGRES_DB) as the configured role (POSTGRES_USER) with its password (given or
generated) filled in. Interactive when stdin and stdout are a terminal, plain otherwise;
nixify exits with psql's code. Arguments after -- go to psql. No pager is set (the image may
hold none): \pset pager turns it on.`,
	Example: `  nixify psql
  nixify psql -- -c 'select version()'
  echo 'select 1' | nixify psql -- -tA`,
	Dashed: "nixify psql -- -c 'select 1'",
	Spec:   psqlSpec,
}

// psqlSpec is psql's command line: over TCP to where the health check reaches the server (PG_HOST,
// PG_PORT; the unix socket is for the postgres user's peer authentication), the password in the
// environment and never in the arguments, no history file (the service users' homes are not
// writable) and no pager (the image may hold none; an empty PSQL_PAGER turns it off, `\pset
// pager` turns it on).
func psqlSpec(in container.Inside, s container.Secrets, args []string) engine.ExecSpec {
	cmd := append([]string{"psql", "-h", in.PGHost, "-p", strconv.Itoa(in.PGPort), "-U", in.PGUser, "-d", in.PGDB}, args...)
	return engine.ExecSpec{Cmd: cmd, User: "postgres", Env: []string{"PGPASSWORD=" + s.PGPassword, "PSQL_HISTORY=/dev/null", "PSQL_PAGER="}}
}
