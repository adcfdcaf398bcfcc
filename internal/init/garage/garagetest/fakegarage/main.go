// Command fakegarage is a TEST DOUBLE of the garage program, not Garage: it accepts
// `garage -c CONFIG server`, reads the admin section of the configuration nixify-init writes, and
// serves the garagetest admin API double there, keeping its state in metadata_dir so a restarted
// container sees the same cluster. nixify's end-to-end tests put it on PATH as "garage" because no
// Garage binary can be had on the test machines. It checks that the configuration is 0600 and
// that it runs as a non-root user, as the real Garage setup requires.
package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nixify/nixify/internal/init/garage/garagetest"
)

func main() {
	if len(os.Args) != 4 || os.Args[1] != "-c" || os.Args[3] != "server" {
		fmt.Fprintln(os.Stderr, "fakegarage (test double): usage: garage -c CONFIG server")
		os.Exit(2)
	}
	conf, err := readConfig(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakegarage:", err)
		os.Exit(1)
	}
	if os.Geteuid() == 0 {
		fmt.Fprintln(os.Stderr, "fakegarage: refusing to run as root")
		os.Exit(1)
	}
	if err := os.MkdirAll(conf["metadata_dir"], 0o700); err != nil {
		fmt.Fprintln(os.Stderr, "fakegarage:", err)
		os.Exit(1)
	}
	double := garagetest.New(conf["admin.admin_token"], filepath.Join(conf["metadata_dir"], "fake-state.json"))
	srv := &http.Server{Addr: conf["admin.api_bind_addr"], Handler: double}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	go func() { <-ctx.Done(); srv.Shutdown(context.Background()) }()
	fmt.Println("fakegarage (test double) admin API on", srv.Addr)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "fakegarage:", err)
		os.Exit(1)
	}
}

// readConfig reads the flat `key = "value"` lines of a TOML file, keys of sections prefixed with
// the section name ("admin.admin_token"); enough for the file nixify-init writes.
func readConfig(path string) (map[string]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s must not be readable by others (mode %v)", path, st.Mode().Perm())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	conf := map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]") + "."
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		conf[section+strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	return conf, sc.Err()
}
