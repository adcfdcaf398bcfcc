package shared

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/engine"
	"github.com/nixify/nixify/internal/iostreams"
	"golang.org/x/term"
)

// Attach runs spec in the running container with this process's streams: with a terminal (TTY,
// raw mode, resizes followed) when stdin is one, plain streams otherwise, so that
// `echo 'select 1' | nixify psql` works. The command's exit code becomes nixify's.
func Attach(ctx context.Context, io *iostreams.IOStreams, eng engine.Engine, id string, spec engine.ExecSpec) error {
	streams := engine.ExecStreams{Stdin: io.In, Stdout: io.Out, Stderr: io.ErrOut}
	if f, ok := io.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		spec.TTY = true
		fd := int(f.Fd())
		old, err := term.MakeRaw(fd)
		if err != nil {
			return cli.Failed(err, "")
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
	if err != nil {
		return EngineError(err)
	}
	if code != 0 {
		return cli.Silent(code)
	}
	return nil
}
