package build

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nixify/nixify/internal/build"
	"github.com/nixify/nixify/internal/iostreams"
	"github.com/nixify/nixify/internal/nix"
	"github.com/nixify/nixify/internal/record"
)

// view draws a build in the spirit of nix-output-monitor. On a terminal: finished builds scroll
// above a block, redrawn in place, of what runs now (name, phase, running time, last log line), the
// downloads and a summary of counts and bytes. Without a terminal: one plain line per build started
// and finished, and the summary now and then. --verbose adds every build log line.
type view struct {
	io    *iostreams.IOStreams
	st    iostreams.Styles
	mon   *nix.Monitor
	live  *iostreams.Live
	stopC chan struct{}
	done  chan struct{}

	began     time.Time
	estimates record.Times // the last build time of each derivation, by name

	// graphOf reads the derivations below the installables (nil: no tree); it runs once, when the
	// first build starts: evaluation is over by then and nix answers from its cache.
	graphOf     func(ctx context.Context, installables []string) (*nix.Graph, error)
	graphCtx    context.Context
	graphCancel context.CancelFunc
	graphDone   sync.WaitGroup

	mu           sync.Mutex
	retries      map[string]*retry // by URL: downloads nix is retrying
	took         record.Times      // what this build built, and how long each took
	installables []string
	graphAsked   bool
	graph        *nix.Graph
}

// retry is a download nix keeps retrying: it says so once per attempt, which the view folds into
// one line.
type retry struct {
	url, reason string
	n           int
}

// retryRE matches Nix's warning before it retries a download.
var retryRE = regexp.MustCompile(`unable to download '([^']+)': (.*); retrying in`)

// maxLines is how many lines of builds, what waits on them and downloads the block shows; the
// rest are counted.
const maxLines = 12

// newView starts the view; estimates are the derivations' last build times (may be empty), and
// graphOf (may be nil) reads what waits on what.
func newView(io *iostreams.IOStreams, estimates record.Times, graphOf func(context.Context, []string) (*nix.Graph, error)) *view {
	v := &view{io: io, st: io.Styles(), mon: nix.NewMonitor(), live: io.NewLive(),
		stopC: make(chan struct{}), done: make(chan struct{}), retries: map[string]*retry{},
		began: time.Now(), estimates: estimates, took: record.Times{}, graphOf: graphOf}
	v.graphCtx, v.graphCancel = context.WithCancel(context.Background())
	tty := io.IsErrTTY()
	v.mon.OnStart = func(a nix.Activity) {
		if a.Type == nix.ActBuild {
			v.askGraph()
		}
		if !tty {
			line := verb(a.Type, false) + " " + a.Name
			if est, ok := v.estimates[a.Name]; ok && a.Type == nix.ActBuild {
				line += v.st.Faint.Render(" (" + humanDuration(est.Round(time.Second)) + " last time)")
			}
			v.live.Println(line)
		}
	}
	v.mon.OnStop = func(a nix.Activity, d time.Duration) {
		mark, what := v.st.OK.Render("✓"), verb(a.Type, true)
		switch {
		case a.Failed:
			mark, what = v.st.Fail.Render("✗"), "failed"
		case a.Type == nix.ActBuild && !a.Built:
			// Stopped without success or failure: Ctrl-C, after which "interrupted" is all
			// there is to say. It was not built.
			return
		case a.Type != nix.ActBuild && a.Done == 0:
			// Nix does not say whether a transfer succeeded; one that moved no byte did not.
			mark, what = v.st.Faint.Render("·"), "gave up fetching"
		}
		line := fmt.Sprintf("%s %s %s", what, a.Name, v.st.Faint.Render("("+humanDuration(d)+")"))
		if a.Built {
			v.mu.Lock()
			v.took[a.Name] = d
			v.mu.Unlock()
		}
		if r := v.endRetry(a.Path); r != nil {
			line += " " + v.st.Faint.Render(fmt.Sprintf("after %s: %s", iostreams.Count(r.n, "retry", "retries"), r.reason))
		}
		// On a terminal a long line (a URL and nix's reason) wraps between words under its text.
		v.live.Println(io.WrapErr(mark+" ", line))
	}
	if io.Verbose {
		v.mon.OnLog = func(drv, line string) {
			v.live.Println(v.st.Faint.Render(nix.StoreName(strings.TrimSuffix(drv, ".drv"))+">") + " " + line)
		}
	}
	v.mon.OnMsg = func(level int, text string) {
		// Errors and warnings, or everything when asked. Two nix processes (one per architecture)
		// contend for Nix's SQLite databases; Nix retries and says so, which is no news to a user.
		// Its retries of a download fold into one line, and its advice to pass --show-trace (a
		// flag of nix's, not nixify's) only comes with --verbose.
		if !io.Verbose {
			if strings.HasPrefix(text, "(use '--show-trace'") {
				return
			}
			if m := retryRE.FindStringSubmatch(text); m != nil {
				if v.noteRetry(m[1], m[2]) == 1 && !tty {
					v.live.Println(io.WrapErr("warning: ", fmt.Sprintf("unable to download %s: %s; retrying", m[1], m[2])))
				}
				return
			}
		}
		if io.Verbose || level <= 1 && !strings.Contains(text, "is busy") {
			v.live.Println(wrapMsg(io, text))
		}
	}
	go v.loop()
	return v
}

// wrapMsg is a message of nix's as one paragraph: on a terminal wrapped between words, the lines
// after the first under the text after "warning: " or "error: "; piped one line.
func wrapMsg(io *iostreams.IOStreams, text string) string {
	for _, lead := range []string{"warning: ", "error: "} {
		if strings.HasPrefix(text, lead) {
			return io.WrapErr(lead, strings.TrimPrefix(text, lead))
		}
	}
	return io.WrapErr("", text)
}

func verb(typ int, done bool) string {
	switch {
	case typ == nix.ActBuild && done:
		return "built"
	case typ == nix.ActBuild:
		return "building"
	case done:
		return "fetched"
	}
	return "fetching"
}

func (v *view) handle(e *nix.Event) { v.mon.Handle(e, time.Now()) }

// noteRetry counts one more retry of url and returns how many there were.
func (v *view) noteRetry(url, reason string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	r := v.retries[url]
	if r == nil {
		r = &retry{url: url}
		v.retries[url] = r
	}
	r.reason = reason
	r.n++
	return r.n
}

// endRetry forgets the retries of url (its download ended) and returns them, nil if none.
func (v *view) endRetry(url string) *retry {
	v.mu.Lock()
	defer v.mu.Unlock()
	r := v.retries[url]
	delete(v.retries, url)
	return r
}

// retryLines are the block's lines for the downloads nix is retrying; without a terminal the
// first warning was printed instead.
func (v *view) retryLines() []string {
	if !v.io.IsErrTTY() {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for _, r := range v.retries {
		out = append(out, v.st.Warn.Render("↻")+fmt.Sprintf(" retrying %s (%s): %s", r.url, iostreams.Count(r.n, "retry", "retries"), r.reason))
	}
	return out
}

// askGraph reads the derivation graph in the background, once.
func (v *view) askGraph() {
	v.mu.Lock()
	defer v.mu.Unlock()
	// Only for a person watching: without a cached evaluation (a dirty tree), nix evaluates the
	// flake again, which CI should not pay for a view nobody sees.
	if v.graphAsked || v.graphOf == nil || len(v.installables) == 0 || !v.io.IsErrTTY() {
		return
	}
	v.graphAsked = true
	insts := slices.Clone(v.installables)
	v.graphDone.Go(func() {
		// Without the graph the builds are shown flat: it is a nicety, so its errors are not shown.
		g, err := v.graphOf(v.graphCtx, insts)
		if err == nil {
			v.mu.Lock()
			v.graph = g
			v.mu.Unlock()
		}
	})
}

// tree places the running builds under what waits on them, nil when the graph is not known.
func (v *view) tree(s nix.Status) []nix.TreeNode {
	v.mu.Lock()
	g := v.graph
	v.mu.Unlock()
	if g == nil {
		return nil
	}
	var running []string
	for _, a := range s.Running {
		if a.Type == nix.ActBuild {
			running = append(running, a.Drv)
		}
	}
	return g.Tree(running)
}

func (v *view) plan(p build.Plan) {
	v.mu.Lock()
	v.installables = append(v.installables, p.Installable)
	v.mu.Unlock()
	v.live.Println(fmt.Sprintf("%s %s: %s", v.st.Accent.Render("•"), p.Arch, p.Reason))
}

func (v *view) loop() {
	defer close(v.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-v.stopC:
			return
		case now := <-t.C:
			st := v.mon.Status()
			f := frame{Status: st, Now: now, Began: v.began, Spinner: v.live.Spinner(), Estimates: v.estimates, Tree: v.tree(st)}
			v.live.Set(append(Render(f, v.st), v.retryLines()...)...)
		}
	}
}

func (v *view) stop() {
	v.graphCancel()
	v.graphDone.Wait()
	close(v.stopC)
	<-v.done
	v.live.Set()
	v.live.Stop()
}

// built returns how long each derivation this build built took, for the next build's estimates.
func (v *view) built() record.Times {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.took)
}

// printTail prints a failed derivation's last log lines, ANSI removed, in full.
func (v *view) printTail(drv string) {
	tail := v.mon.Tail(drv)
	if len(tail) == 0 {
		return
	}
	fmt.Fprintf(v.io.ErrOut, "%s\n", v.st.Fail.Render(fmt.Sprintf("last %s of %s:", iostreams.Count(len(tail), "log line", "log lines"), nix.StoreName(drv))))
	for _, l := range tail {
		fmt.Fprintf(v.io.ErrOut, "  %s\n", l)
	}
}

// frame is what one drawing of the block shows.
type frame struct {
	Status     nix.Status
	Now, Began time.Time
	Spinner    string
	Estimates  record.Times   // last build times by derivation name, shown as ~estimates
	Tree       []nix.TreeNode // the running builds under what waits on them; nil: not known
}

// Render turns a monitor's status into the lines of the live block.
func Render(f frame, st iostreams.Styles) []string {
	s, now := f.Status, f.Now
	if len(s.Running) == 0 && s.BuildsExpected == 0 && s.CopiesExpected == 0 {
		return nil // nothing to show yet: evaluation
	}
	var lines []string
	byDrv := map[string]nix.Activity{}
	for _, a := range s.Running {
		if a.Type == nix.ActBuild {
			byDrv[a.Drv] = a
		}
	}
	// Builds under what waits on them when the graph is known (f.Tree), then those it does not
	// know, then the downloads.
	placed := map[string]bool{}
	for _, n := range f.Tree {
		indent := strings.Repeat("  ", n.Depth)
		if !n.Running {
			lines = append(lines, indent+st.Faint.Render(fmt.Sprintf("◌ %s waits on %s", nix.StoreName(strings.TrimSuffix(n.Drv, ".drv")), iostreams.Count(n.Waits, "build", "builds"))))
			continue
		}
		if a, ok := byDrv[n.Drv]; ok {
			placed[n.Drv] = true
			lines = append(lines, indent+buildLine(a, f, st))
		}
	}
	for _, a := range s.Running {
		switch {
		case a.Type == nix.ActBuild && !placed[a.Drv]:
			lines = append(lines, buildLine(a, f, st))
		case a.Type != nix.ActBuild:
			line := fmt.Sprintf("↓ %s %s", a.Name, st.Faint.Render(humanDuration(now.Sub(a.Started).Truncate(time.Second))))
			if a.Expected > 0 {
				line += fmt.Sprintf(" %s/%s", iostreams.Bytes(a.Done), iostreams.Bytes(a.Expected))
			}
			lines = append(lines, line)
		}
	}
	if len(lines) > maxLines {
		lines = append(lines[:maxLines-1], st.Faint.Render(fmt.Sprintf("  … and %d more", len(lines)-maxLines+1)))
	}
	summary := fmt.Sprintf("%s · builds %d/%d", humanDuration(now.Sub(f.Began).Truncate(time.Second)), s.BuildsDone, s.BuildsExpected)
	if s.BuildsRunning > 0 {
		summary += fmt.Sprintf(", %d running", s.BuildsRunning)
	}
	if s.BuildsFailed > 0 {
		summary += ", " + st.Fail.Render(fmt.Sprintf("%d failed", s.BuildsFailed))
	}
	if s.CopiesExpected > 0 {
		summary += fmt.Sprintf(" · downloads %d/%d", s.CopiesDone, s.CopiesExpected)
	}
	if s.BytesDone > 0 || s.BytesExpected > 0 {
		summary += fmt.Sprintf(" · %s", iostreams.Bytes(s.BytesDone))
		if s.BytesExpected > 0 {
			summary += "/" + iostreams.Bytes(s.BytesExpected)
		}
	}
	return append(lines, st.Faint.Render(summary))
}

// buildLine is a running build: name, running time (and the last build's time), phase, machine
// and its last log line.
func buildLine(a nix.Activity, f frame, st iostreams.Styles) string {
	run := humanDuration(f.Now.Sub(a.Started).Truncate(time.Second))
	if est, ok := f.Estimates[a.Name]; ok {
		run += "/~" + humanDuration(est.Round(time.Second))
	}
	line := fmt.Sprintf("%s %s %s", f.Spinner, st.Bold.Render(a.Name), st.Faint.Render(run))
	if a.Phase != "" {
		line += " " + st.Accent.Render(a.Phase)
	}
	if a.Machine != "" {
		line += st.Faint.Render(" on " + a.Machine)
	}
	if a.LastLine != "" {
		line += st.Faint.Render(" │ " + iostreams.Clip(a.LastLine, 60))
	}
	return line
}
