package iostreams

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/lipgloss"
)

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// Live is a block of lines redrawn in place on a terminal (stderr). Lines printed through Println
// scroll above it. Without a terminal nothing is redrawn: Println lines pass straight through and the
// block is written as plain lines at most once per Every, so logs show progress without flooding.
//
// On a terminal every line of the block is clipped to the terminal's width: a line that wrapped
// would take two rows while the redraw moves up one per line, and each redraw would leave a copy of
// the block in the scrollback. The width is read again before every erase, not only on SIGWINCH: a
// terminal made narrower re-wraps the lines already drawn, so the erase counts the rows they take
// at the new width (see rows), whenever the signal arrives. Rows that a re-wrap pushed above the
// top of the screen are in the terminal's scrollback, where no cursor reaches: in a terminal whose
// block starts near the top, narrowing it can still leave those behind.
type Live struct {
	w     io.Writer
	tty   bool
	every time.Duration
	width func() int // columns of the terminal (IOStreams.termWidth); 0 when unknown

	mu       sync.Mutex
	lines    []string
	drawn    []int // display widths of the block's lines currently on screen
	dirty    bool  // lines changed since they were drawn
	frame    int
	lastText time.Time
	lastSent string
	stop     chan struct{}
	done     chan struct{}
}

// NewLive starts a live block on stderr. Call Stop when done.
func (s *IOStreams) NewLive() *Live { return s.newLive(10 * time.Second) }

// newLive starts a live block that writes its plain lines at most once per every.
func (s *IOStreams) newLive(every time.Duration) *Live {
	return startLive(&Live{w: s.ErrOut, tty: s.IsErrTTY(), every: every, width: s.termWidth})
}

// NewLiveOut starts a live block on stdout, for a view that is the command's output (health
// --watch): redrawn in place when stdout is a terminal, each new block written as plain lines
// otherwise. End it with Keep to leave the last block on the screen.
func (s *IOStreams) NewLiveOut() *Live {
	return startLive(&Live{w: s.Out, tty: s.IsTTY(), width: s.TerminalWidth})
}

func startLive(l *Live) *Live {
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go l.loop()
	return l
}

// termWidth is the width of the terminal stderr writes to, 0 when it is none or unknown.
func (s *IOStreams) termWidth() int { return s.widthOf(s.ErrOut) }

// Clip cuts a line (styled or not) to fit in width columns, marking the cut with …; width 0
// means unknown, and the line is kept whole.
func Clip(line string, width int) string {
	if width <= 0 || lipgloss.Width(line) <= width {
		return line
	}
	if width == 1 {
		return "…"
	}
	// MaxWidth cuts by display columns and keeps the escape sequences, so styles still end.
	return lipgloss.NewStyle().MaxWidth(width-1).Render(line) + "…"
}

// Spinner returns the current spinner frame, for blocks that show activity. Plain lines (a pipe,
// a log) get a steady mark instead: a frame frozen in a log file says nothing.
func (l *Live) Spinner() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.tty {
		return "…"
	}
	return spinnerFrames[l.frame%len(spinnerFrames)]
}

// Set replaces the block's lines.
func (l *Live) Set(lines ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !slices.Equal(l.lines, lines) {
		l.lines = append(l.lines[:0], lines...)
		l.dirty = true
	}
	if !l.tty && time.Since(l.lastText) >= l.every {
		l.writePlain()
	}
}

// Println prints a line that stays, above the block.
func (l *Live) Println(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clear()
	fmt.Fprintln(l.w, line)
	l.draw()
}

// Stop ends redrawing; the block is erased on a terminal, or written one last time as plain lines.
func (l *Live) Stop() { l.end(false) }

// Keep ends redrawing and leaves the last block on the screen, drawn at the terminal's width of
// now (a view that is the command's result: Ctrl-C ends health --watch on its last table).
func (l *Live) Keep() { l.end(true) }

func (l *Live) end(keep bool) {
	select {
	case <-l.stop:
		return
	default:
	}
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case !l.tty:
		l.writePlain()
	case !keep:
		l.clear()
	case l.dirty || len(l.drawn) == 0:
		l.clear()
		l.draw()
	}
}

func (l *Live) loop() {
	defer close(l.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	resized, unwatch := watchResize()
	defer unwatch()
	for {
		select {
		case <-l.stop:
			return
		case <-resized:
			// Redraw at once: until then the terminal shows the old lines re-wrapped.
			l.mu.Lock()
			if l.tty {
				l.clear()
				l.draw()
			}
			l.mu.Unlock()
		case <-t.C:
			l.mu.Lock()
			l.frame++
			// Only a changed block is redrawn: a view that changes every --interval is drawn
			// every --interval, not ten times a second, and does not flicker.
			if l.tty {
				if l.dirty {
					l.clear()
					l.draw()
				}
			} else if time.Since(l.lastText) >= l.every && len(l.lines) > 0 {
				l.writePlain()
			}
			l.mu.Unlock()
		}
	}
}

func (l *Live) writePlain() {
	text := strings.Join(l.lines, "\n")
	if text == "" || text == l.lastSent {
		return
	}
	fmt.Fprintln(l.w, text)
	l.lastSent, l.lastText = text, time.Now()
}

func (l *Live) clear() {
	if !l.tty || len(l.drawn) == 0 {
		return
	}
	// The terminal may have been resized since the draw (the signal can come after this tick):
	// ask it now, so that the rows counted are the rows the terminal shows.
	cols, up := l.width(), 0
	for _, w := range l.drawn {
		up += rows(w, cols)
	}
	// Erase row by row up to the block's first row. Not "up N, erase to the end of the screen":
	// when the block starts at the top of the screen that is a clear of the whole screen, which
	// tmux (scroll-on-clear) turns into a copy of the screen in the scrollback.
	fmt.Fprint(l.w, "\r"+strings.Repeat("\x1b[1A\x1b[2K", up))
	l.drawn = l.drawn[:0]
}

// rows is how many terminal rows a line of width columns takes on a terminal cols wide: a
// terminal made narrower re-wraps the lines on it (tmux, VTE, kitty, iTerm2 do), so a line
// drawn to fit 120 columns takes two rows at 60.
func rows(width, cols int) int {
	if cols <= 0 || width <= cols {
		return 1
	}
	return (width + cols - 1) / cols
}

func (l *Live) draw() {
	if !l.tty {
		return
	}
	// The last column stays free: a line that fills it exactly makes some terminals wrap.
	cols := l.width()
	l.dirty = false
	for _, line := range l.lines {
		line = Clip(line, cols-1)
		fmt.Fprintln(l.w, line)
		l.drawn = append(l.drawn, lipgloss.Width(line))
	}
}

// Progress is one task's progress: a spinner, or a bar when the total is known. A Progress that
// nobody looks at (JSON was asked, or a nil one) does nothing, so callers never check.
type Progress struct {
	live  *Live
	title string
	st    Styles
	start time.Time
}

// StartProgress shows a spinner titled title on stderr; with --output json it shows nothing.
func (s *IOStreams) StartProgress(title string) *Progress {
	if s.WantsJSON() {
		return &Progress{}
	}
	p := &Progress{live: s.NewLive(), title: title, st: s.Styles(), start: time.Now()}
	p.Update("", 0, 0)
	return p
}

func (p *Progress) quiet() bool { return p == nil || p.live == nil }

// Update shows a status and, when total > 0, a bar of done/total.
func (p *Progress) Update(status string, done, total int64) {
	if p.quiet() {
		return
	}
	var b strings.Builder
	b.WriteString(p.live.Spinner() + " " + p.title)
	if total > 0 {
		const width = 24
		n := min(int(done*width/total), width)
		fmt.Fprintf(&b, " [%s%s] %3d%%", strings.Repeat("=", n), strings.Repeat(" ", width-n), done*100/total)
	}
	if status != "" {
		b.WriteString(" " + p.st.Faint.Render(status))
	}
	p.live.Set(b.String())
}

// Done ends the progress with a final line: ✓ title (message) in elapsed time.
func (p *Progress) Done(message string) {
	if !p.quiet() {
		p.end(p.st.OK.Render("✓"), message)
	}
}

// Fail ends the progress with a failure line.
func (p *Progress) Fail(message string) {
	if !p.quiet() {
		p.end(p.st.Fail.Render("✗"), message)
	}
}

// Stop ends the progress without a line: for an interrupt, where "interrupted" is all there is
// to say.
func (p *Progress) Stop() {
	if p.quiet() {
		return
	}
	p.live.Set()
	p.live.Stop()
}

func (p *Progress) end(mark, message string) {
	p.live.Set()
	p.live.Stop()
	line := fmt.Sprintf("%s %s", mark, p.title)
	if message != "" {
		line += ": " + message
	}
	line += p.st.Faint.Render(fmt.Sprintf(" (%s)", time.Since(p.start).Round(10*time.Millisecond)))
	fmt.Fprintln(p.live.w, line)
}

// Group folds the lines written until the returned function is called into one collapsible group
// in GitHub Actions logs; elsewhere it prints a plain heading.
func (s *IOStreams) Group(title string) (end func()) {
	if s.ci == GitHubActions {
		fmt.Fprintf(s.ErrOut, "::group::%s\n", title)
		return func() { fmt.Fprintln(s.ErrOut, "::endgroup::") }
	}
	if !s.IsErrTTY() {
		fmt.Fprintf(s.ErrOut, "== %s\n", title)
	}
	return func() {}
}
