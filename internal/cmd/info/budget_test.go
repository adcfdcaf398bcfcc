package info

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixify/nixify/internal/cli"
	"github.com/nixify/nixify/internal/image/imagetest"
	"github.com/nixify/nixify/internal/iostreams"
)

func TestClosureAndBudget(t *testing.T) {
	p := filepath.Join(t.TempDir(), "image.tar")
	w, err := imagetest.WriteFile(p, imagetest.Spec{Layers: 3, LayerSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}

	// JSON: every store path with its layer's size, and the total.
	io, _, out, _ := iostreams.Test()
	io.Format = iostreams.JSON
	if err := infoRun(context.Background(), &Options{IO: io, Source: p, Closure: true, MaxSize: "1MiB"}); err != nil {
		t.Fatalf("under budget: %v", err)
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(rep.Closures) != 1 || len(rep.Closures[0].Paths) != 3 {
		t.Fatalf("closures %+v", rep.Closures)
	}
	c := rep.Closures[0]
	var sum int64
	for i, ps := range c.Paths {
		if len(ps.StorePaths) != 1 || ps.StorePaths[0] != w.StorePaths[i] || ps.Size < 64<<10 || ps.Compressed {
			t.Errorf("path %d: %+v, want %s of at least 64 KiB", i, ps, w.StorePaths[i])
		}
		sum += ps.Size
	}
	if c.Total != sum || rep.Images[0].UncompressedSize <= sum {
		t.Errorf("total %d, sum %d, image %d", c.Total, sum, rep.Images[0].UncompressedSize)
	}

	// Text: the largest N, then the budget's verdict naming the overshoot (exit 1).
	io, _, out, _ = iostreams.Test()
	err = infoRun(context.Background(), &Options{IO: io, Source: p, Closure: true, Top: 2, MaxSize: "100KiB"})
	_, text, _ := strings.Cut(out.String(), "store paths of")
	if text == "" || !strings.Contains(text, w.StorePaths[1]) || strings.Contains(text, w.StorePaths[2]) {
		t.Errorf("--closure --top 2:\n%s", text)
	}
	over := rep.Images[0].UncompressedSize - 100<<10
	if cli.Code(err) != cli.ExitFailure || !strings.Contains(err.Error(), iostreams.Bytes(over)+" over the 100 KiB budget") ||
		!strings.Contains(cli.Hint(err), "--closure") || strings.Contains(err.Error(), "\n") {
		t.Errorf("over budget: code %d, %v (hint %q), want %s over", cli.Code(err), err, cli.Hint(err), iostreams.Bytes(over))
	}
}

func TestBudgetBadInput(t *testing.T) {
	p := filepath.Join(t.TempDir(), "image.tar")
	if _, err := imagetest.WriteFile(p, imagetest.Spec{}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{{MaxSize: "60MB"}, {MaxSize: "lots"}, {MaxSize: "0"}, {MaxSize: "-1MiB"}, {Top: -1}} {
		io, _, out, _ := iostreams.Test()
		o.IO, o.Source = io, p
		err := infoRun(context.Background(), &o)
		if cli.Code(err) != cli.ExitUsage || strings.Contains(err.Error(), "\n") || out.Len() > 0 {
			t.Errorf("%+v: code %d, err %v, printed %q", o, cli.Code(err), err, out)
		}
	}
}
