// Command gobin is a small Go program with module dependencies, copied into the test flake's
// image so that the SBOM tests find Go modules in a real binary (test binaries record none).
package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"
	"golang.org/x/term"
)

func main() {
	pflag.Parse()
	fmt.Println(term.IsTerminal(int(os.Stdout.Fd())))
}
