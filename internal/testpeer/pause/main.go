// Command pause is the sandbox ("pause") container of the test node that testpeer.KubeWithNode
// runs: it holds a Pod's namespaces open and does nothing until it is told to stop. Built static,
// it is the whole image (no shell, no libraries), as the upstream pause image is.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	// As PID 1 of the Pod it would inherit orphans; Go's runtime reaps nothing, so ignore SIGCHLD
	// the way the kernel then reaps them itself.
	signal.Ignore(syscall.SIGCHLD)
	<-stop
}
