// Command mkimage writes the end-to-end test image (nixify-init, PostgreSQL, Redis; see package
// e2e/testimage) as a docker-archive, for the benchmarks. Usage: mkimage INIT_BINARY TAG OUT.tar
package main

import (
	"fmt"
	"os"

	"github.com/nixify/nixify/e2e/testimage"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: mkimage INIT_BINARY TAG OUT.tar")
		os.Exit(2)
	}
	spec, err := testimage.Services(os.Args[1], os.Args[2])
	if err == nil {
		var digest string
		if digest, err = testimage.Write(spec, os.Args[3]); err == nil {
			fmt.Println(digest)
			return
		}
	}
	fmt.Fprintln(os.Stderr, "mkimage:", err)
	os.Exit(1)
}
