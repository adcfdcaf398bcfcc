// Command nixify builds, runs, checks and ships a Nix-defined service image.
package main

import (
	"os"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/cmd/root"
)

func main() {
	os.Exit(root.Main(cli.NewFactory(), os.Args[1:]))
}
