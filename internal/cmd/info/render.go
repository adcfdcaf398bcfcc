package info

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/image"
	"github.com/nixify/nixify/internal/iostreams"
)

// render prints the text view: a block of fields per image, its layers, then its warnings.
func render(io *iostreams.IOStreams, rep Report) {
	st := io.Styles()
	if rep.Index != nil {
		io.Printf("%s %s\n", st.Bold.Render("index"), rep.Index.Ref)
		io.Printf("  %-12s %s (%s)\n", "digest", rep.Index.Digest, rep.Index.MediaType)
		printMap(io, "annotations", rep.Index.Annotations)
		io.Printf("\n")
	}
	for n, inf := range rep.Images {
		if n > 0 {
			io.Printf("\n")
		}
		title := inf.Source
		if inf.FiledUnder != "" {
			title = inf.FiledUnder.String() + "  " + title
		}
		io.Printf("%s\n", st.Bold.Render(io.Fit(title)))
		field := func(k, v string) {
			if v != "" {
				io.Printf("%s\n", io.Fit(fmt.Sprintf("  %-12s %s", k, v))) // on a terminal: shortened, not wrapped
			}
		}
		plat := inf.OS + "/" + inf.Architecture
		if inf.Variant != "" {
			plat += "/" + inf.Variant
		}
		field("platform", plat)
		// Full digests are in -o json and piped output; a terminal gets them as push prints them.
		digest := func(d string) string {
			if io.IsTTY() {
				return short(d)
			}
			return d
		}
		field("config", digest(inf.ConfigDigest))
		field("manifest", digest(inf.ManifestDigest))
		field("tags", strings.Join(inf.RepoTags, ", "))
		field("size", sizes(inf))
		created := inf.Created
		if inf.CreatedDefault {
			created += st.Faint.Render(" (Nix's reproducible default)")
		}
		field("created", created)
		field("entrypoint", strings.Join(inf.Entrypoint, " "))
		field("cmd", strings.Join(inf.Cmd, " "))
		field("workdir", inf.WorkingDir)
		field("user", inf.User)
		field("ports", strings.Join(inf.Ports, ", "))
		field("volumes", strings.Join(inf.Volumes, ", "))
		if hc := inf.Healthcheck; hc != nil {
			s := strings.Join(hc.Test, " ")
			if hc.Interval != "" {
				s += ", every " + hc.Interval
			}
			if hc.Retries > 0 {
				s += ", " + iostreams.Count(hc.Retries, "retry", "retries")
			}
			field("healthcheck", s)
		}
		for _, e := range inf.Env {
			field("env", config.RedactEnv(e)) // a password baked into an image is not printed (-o json has it)
		}
		printMap(io, "labels", inf.Labels)
		printMap(io, "annotations", inf.Annotations)
		layers(io, inf)
		for _, w := range inf.Warnings {
			io.Printf("%s\n", io.WrapOut(st.Warn.Render("warning:")+" ", w))
		}
	}
}

func printMap(io *iostreams.IOStreams, title string, m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		io.Printf("  %-12s %s=%s\n", title, k, m[k])
	}
}

func sizes(inf *image.Info) string {
	var parts []string
	if inf.CompressedSize > 0 {
		parts = append(parts, iostreams.Bytes(inf.CompressedSize)+" compressed")
	}
	if inf.UncompressedSize > 0 {
		parts = append(parts, iostreams.Bytes(inf.UncompressedSize)+" uncompressed")
	}
	if inf.ArchiveSize > 0 {
		kind := inf.ArchiveCompression + " archive"
		if inf.ArchiveCompression == "" || inf.ArchiveCompression == "none" {
			kind = "archive"
		}
		parts = append(parts, fmt.Sprintf("%s %s", kind, iostreams.Bytes(inf.ArchiveSize)))
	}
	return strings.Join(parts, ", ")
}

// layers prints the layer table; on a terminal with a bar per layer, scaled to the largest.
func layers(io *iostreams.IOStreams, inf *image.Info) {
	io.Printf("  %s (%d)\n", "layers", len(inf.Layers))
	tty := io.IsTTY()
	cols := []string{"#", "size", "digest", "store paths"}
	if tty {
		cols = append(cols, "")
	}
	t := io.NewTable(cols...)
	var max int64
	for _, l := range inf.Layers {
		max = maxInt(max, layerSize(l))
	}
	st := io.Styles()
	for i, l := range inf.Layers {
		paths := strings.Join(l.StorePaths, " ")
		digest := l.Digest
		if tty {
			// Within 80 columns, never wrapped: digests as push prints them, store paths as names.
			digest, paths = short(digest), iostreams.Clip(storePaths(l.StorePaths), 32)
		}
		row := []string{fmt.Sprint(i + 1), iostreams.Bytes(layerSize(l)), digest, paths}
		if tty {
			w := 0
			if max > 0 {
				w = int(layerSize(l) * 10 / max)
			}
			row = append(row, st.Accent.Render(strings.Repeat("█", w)))
		}
		t.Row(row...)
	}
	t.Render()
}

// storePaths names a layer's store paths for a terminal: the first shortened as below, then how
// many more.
func storePaths(ps []string) string {
	switch len(ps) {
	case 0:
		return ""
	case 1:
		return shortStorePath(ps[0])
	}
	return fmt.Sprintf("%s +%d more", shortStorePath(ps[0]), len(ps)-1)
}

// shortStorePath keeps a store path's name and the start of its hash, as a terminal has room for
// (/nix/store/mk3av6pl213ck56s0h4qxa9njjmdqy5c-redis-7.2 -> mk3av6p…-redis-7.2); -o json and
// piped output keep whole paths.
func shortStorePath(p string) string {
	base := strings.TrimPrefix(p, "/nix/store/")
	if len(base) > 33 && base[32] == '-' {
		return base[:7] + "…" + base[32:]
	}
	return p
}

func layerSize(l image.LayerInfo) int64 {
	if l.Size > 0 {
		return l.Size
	}
	return l.CompressedSize
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}
