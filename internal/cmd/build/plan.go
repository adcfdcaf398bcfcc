package build

import (
	"fmt"
	"strings"

	"github.com/nixify/nixify/internal/build"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/nix"
)

// jsonPlan is one architecture in `--plan -o json`.
type jsonPlan struct {
	Architecture  string      `json:"architecture"` // OCI's name (amd64, arm64)
	System        string      `json:"system"`
	Strategy      string      `json:"strategy"`
	Reason        string      `json:"reason"`
	Installable   string      `json:"installable"`
	Build         []jsonStep  `json:"build"`
	Fetch         []jsonFetch `json:"fetch"`
	Unknown       []string    `json:"unknown"`
	DownloadBytes int64       `json:"downloadBytes"` // nix's totals for fetch
	UnpackedBytes int64       `json:"unpackedBytes"`
	SeenSeconds   float64     `json:"seenSeconds"` // the last build times of the builds seen before, summed
	NewBuilds     int         `json:"newBuilds"`   // builds never seen: not in seenSeconds
	SizesError    string      `json:"sizesError,omitempty"`
}

type jsonStep struct {
	DrvPath     string   `json:"drvPath"`
	Name        string   `json:"name"`
	LastSeconds *float64 `json:"lastSeconds"` // null: new
}

type jsonFetch struct {
	Path          string `json:"path"`
	Name          string `json:"name"`
	Cache         string `json:"cache"`
	DownloadBytes int64  `json:"downloadBytes"` // 0: the cache did not say
	UnpackedBytes int64  `json:"unpackedBytes"`
}

// reportPlan prints what each architecture's build would do: a heading, then one row per
// derivation to build and path to fetch, and a total. The plan is for people (-o json is for
// programs), so its columns are aligned under a header even when piped: the workflow copies it
// into the job summary. On a terminal the table fits its width.
func reportPlan(io *iostreams.IOStreams, pvs []build.Preview) error {
	if io.WantsJSON() {
		out := struct {
			Plans []jsonPlan `json:"plans"`
		}{Plans: []jsonPlan{}}
		for _, pv := range pvs {
			out.Plans = append(out.Plans, planJSON(pv))
		}
		return io.WriteJSON(out)
	}
	st := io.Styles()
	for i, pv := range pvs {
		if i > 0 {
			fmt.Fprintln(io.Out)
		}
		fmt.Fprintf(io.Out, "%s: %s\n", st.Bold.Render(pv.Plan.Arch.String()), pv.Plan.Reason)
		if len(pv.Build)+len(pv.Fetch)+len(pv.Unknown) == 0 {
			fmt.Fprintln(io.Out, "nothing to build or fetch: the image is in the store")
			continue
		}
		t := io.NewTable("do", "name", "last time", "download", "unpacked")
		for _, s := range pv.Build {
			last := st.Accent.Render("new")
			if !s.New {
				last = humanDuration(s.Last)
			}
			t.Row("build", s.Name, last, "", "")
		}
		for _, f := range pv.Fetch {
			dl, un := "?", "?"
			if f.DownloadBytes > 0 || f.UnpackedBytes > 0 {
				dl, un = iostreams.Bytes(f.DownloadBytes), iostreams.Bytes(f.UnpackedBytes)
			}
			t.Row("fetch", f.Name, "", dl, un)
		}
		for _, u := range pv.Unknown {
			t.Row(st.Fail.Render("missing"), nix.StoreName(strings.TrimSuffix(u, ".drv")), "", "", "")
		}
		total := iostreams.Count(len(pv.Build), "build", "builds") + ", " + iostreams.Count(len(pv.Fetch), "fetch", "fetches")
		dl, un := "", ""
		if len(pv.Fetch) > 0 {
			dl, un = iostreams.Bytes(pv.DownloadBytes), iostreams.Bytes(pv.UnpackedBytes)
		}
		t.Row("total", total, estimate(pv), dl, un)
		for _, l := range t.Lines() {
			fmt.Fprintln(io.Out, l)
		}
		if pv.SizesErr != nil {
			warn(io, fmt.Sprintf("%s: no size per path (%v); the totals are nix's", pv.Plan.Arch, pv.SizesErr))
		}
		if len(pv.Unknown) > 0 {
			warn(io, fmt.Sprintf("%s: nix can neither build nor fetch %s: the build will fail", pv.Plan.Arch, iostreams.Count(len(pv.Unknown), "path", "paths")))
		}
	}
	return nil
}

// warn prints a warning on stderr: on a terminal wrapped between words, piped one line.
func warn(io *iostreams.IOStreams, text string) {
	fmt.Fprintln(io.ErrOut, io.WrapErr("warning: ", text))
}

// estimate is the build time the plan expects: the summed last times of the derivations seen
// before, plus how many were never seen.
func estimate(pv build.Preview) string {
	switch {
	case len(pv.Build) == 0:
		return ""
	case pv.New == 0:
		return "~" + humanDuration(pv.Seen)
	case pv.New == len(pv.Build):
		return fmt.Sprintf("%d new", pv.New)
	}
	return fmt.Sprintf("~%s + %d new", humanDuration(pv.Seen), pv.New)
}

func planJSON(pv build.Preview) jsonPlan {
	p := pv.Plan
	j := jsonPlan{Architecture: p.Arch.GOARCH(), System: p.System, Strategy: string(p.Strategy), Reason: p.Reason, Installable: p.Installable,
		Build: []jsonStep{}, Fetch: []jsonFetch{}, Unknown: append([]string{}, pv.Unknown...),
		DownloadBytes: pv.DownloadBytes, UnpackedBytes: pv.UnpackedBytes, SeenSeconds: pv.Seen.Seconds(), NewBuilds: pv.New}
	if pv.SizesErr != nil {
		j.SizesError = pv.SizesErr.Error()
	}
	for _, s := range pv.Build {
		step := jsonStep{DrvPath: s.Drv, Name: s.Name}
		if !s.New {
			secs := s.Last.Seconds()
			step.LastSeconds = &secs
		}
		j.Build = append(j.Build, step)
	}
	for _, f := range pv.Fetch {
		j.Fetch = append(j.Fetch, jsonFetch{Path: f.Path, Name: f.Name, Cache: f.Cache, DownloadBytes: f.DownloadBytes, UnpackedBytes: f.UnpackedBytes})
	}
	return j
}
