package shared

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/container"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"golang.org/x/term"
)

// Attach runs spec in the running container with this process's streams: with a terminal (TTY,
// raw mode, resizes followed) when stdin and stdout are one, plain streams otherwise, so that
// `echo 'select 1' | nixify psql` works and `nixify psql -c ... > file` writes plain lines. The
// command's exit code becomes nixify's.
func Attach(ctx context.Context, io *iostreams.IOStreams, eng engine.Engine, id string, spec engine.ExecSpec) error {
	streams := engine.ExecStreams{Stdin: io.In, Stdout: io.Out, Stderr: io.ErrOut}
	if isTerminal(io.In) && isTerminal(io.Out) {
		spec.TTY = true
		fd := int(io.In.(*os.File).Fd())
		old, err := term.MakeRaw(fd)
		if err != nil {
			return cli.Fail(err)
		}
		defer term.Restore(fd, old)
		resize := make(chan engine.TermSize, 1)
		sendSize := func() {
			if w, h, err := term.GetSize(fd); err == nil {
				select {
				case resize <- engine.TermSize{Rows: uint(h), Cols: uint(w)}:
				default: // a newer size follows with the next signal
				}
			}
		}
		sendSize()
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				sendSize()
			}
		}()
		streams.Resize = resize
	}
	code, err := eng.ContainerAttachExec(ctx, id, spec, streams)
	var se *engine.ExecStartError
	if errors.As(err, &se) {
		// As a shell says it: 127 for no such program, 126 for one that cannot run.
		if se.NotFound {
			return &cli.ExitError{Code: 127, Err: err, Hint: "the image holds busybox's programs, PostgreSQL's and redis-cli: `nixify exec -- ls /bin` lists them"}
		}
		return &cli.ExitError{Code: 126, Err: err}
	}
	if err != nil {
		return EngineError(err)
	}
	if code != 0 {
		return cli.Silent(code)
	}
	return nil
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// FindRunning is FindContainer for commands that need it running (exec, shell, psql, redis-cli,
// env, backup).
func FindRunning(ctx context.Context, loadConfig func() (*config.Loaded, error), open func() (engine.Engine, error)) (*Existing, error) {
	x, err := FindContainer(ctx, loadConfig, open)
	if err != nil {
		return nil, err
	}
	if err := RequireRunning(x.Container); err != nil {
		x.Close()
		return nil, err
	}
	return x, nil
}

// ClientSpec is the command line of a service's client (psql, redis-cli) from what the container
// runs, its secrets and the user's arguments.
type ClientSpec func(in container.Inside, s container.Secrets, args []string) engine.ExecSpec

// RunClient runs the client of a service (postgres, redis) inside the running container, logged
// in with the service's password, attached as Attach does.
func RunClient(ctx context.Context, io *iostreams.IOStreams, loadConfig func() (*config.Loaded, error), open func() (engine.Engine, error), service string, spec ClientSpec, args []string) error {
	x, err := FindRunning(ctx, loadConfig, open)
	if err != nil {
		return err
	}
	defer x.Close()
	c := x.Container
	in := container.InsideOf(c)
	if !in.Runs(service) {
		return cli.Fail(fmt.Errorf("container %q does not run %s (NIXIFY_SERVICES=%s)", c.Name, service, in.Env("NIXIFY_SERVICES")))
	}
	secrets, err := container.ReadSecrets(ctx, x.Engine, c)
	if err != nil {
		return EngineError(err)
	}
	return Attach(ctx, io, x.Engine, c.ID, spec(in, secrets, args))
}
