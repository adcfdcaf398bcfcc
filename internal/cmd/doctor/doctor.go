// Package doctor implements `nixify doctor`: what this machine can and cannot do, and how to fix it.
package doctor

import (
	"context"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/doctor"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/spf13/cobra"
)

// Options is what `nixify doctor` needs.
type Options struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Loaded, error)
	Getenv func(string) string
	// WorkDir is where a relative flake reference points from; empty: the working directory.
	WorkDir string
}

// NewCmdDoctor wires the command; runF replaces the run function in tests.
func NewCmdDoctor(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Config: f.Config, Getenv: f.Getenv, WorkDir: f.WorkDir}
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check what this machine can do: nix, flakes, systems, Docker engine, credentials, disk",
		Long: `Check what this machine can do for nixify and say how to fix what is missing.
Exit code 0 when the main job (build and run) can run here, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return doctorRun(cmd.Context(), opts)
		},
	}
}

func doctorRun(ctx context.Context, opts *Options) error {
	l, err := opts.Config()
	if err != nil {
		return err
	}
	r := doctor.Run(ctx, doctor.Options{Getenv: opts.Getenv, DockerHost: l.Config.DockerHost, Repo: l.Config.Repo,
		StateDir: l.Config.StateDir, Flake: l.Config.Flake, WorkDir: opts.WorkDir})
	if opts.IO.WantsJSON() {
		if err := opts.IO.WriteJSON(r); err != nil {
			return err
		}
	} else {
		st := opts.IO.Styles()
		// The detail and the fix are what a reader needs whole: they wrap between words.
		t := opts.IO.NewTable("check", "status", "detail").WrapColumn(2)
		for _, c := range r.Checks {
			t.Row(c.Name, st.Status(string(c.Status)), c.Detail)
		}
		t.Render()
		width := opts.IO.TerminalWidth() - 1
		for _, c := range r.Checks {
			if c.Fix != "" && (c.Status == doctor.Fail || c.Status == doctor.Warn) {
				lead := st.Accent.Render("fix") + " " + c.Name + ": "
				if width > 0 {
					opts.IO.Printf("%s\n", iostreams.WrapAfter(lead, c.Fix, width))
				} else {
					opts.IO.Printf("%s%s\n", lead, c.Fix)
				}
			}
		}
		if r.OK {
			opts.IO.Printf("%s\n", st.OK.Render(r.Verdict))
		} else {
			opts.IO.Printf("%s\n", st.Fail.Render(r.Verdict))
		}
	}
	if !r.OK {
		return cli.Silent(cli.ExitFailure)
	}
	return nil
}
