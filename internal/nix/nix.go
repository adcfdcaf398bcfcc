package nix

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/nixify/nixify/internal/iostreams"
)

// ErrNotInstalled means there is no nix on PATH.
var ErrNotInstalled = errors.New("nix is not installed (not found on PATH)")

// InstallHint says how to get Nix.
const InstallHint = "install Nix: `apt-get install nix-bin` on Debian/Ubuntu, or the installer from nixos.org; then run `nixify doctor`"

// Nix runs one nix binary. Every call enables nix-command and flakes for itself, so nixify works
// on a machine whose nix.conf has not enabled them.
type Nix struct {
	Path string   // the nix binary
	Args []string // added to every call, e.g. --option extra-platforms aarch64-linux
	Env  []string // added to the environment, e.g. NIX_CONFIG=...
	// LockFlags go after the subcommand of every call that locks a flake (build, eval, flake
	// metadata), where nix accepts them: e.g. --no-write-lock-file.
	LockFlags []string
}

// Find looks nix up on PATH.
func Find() (*Nix, error) {
	p, err := exec.LookPath("nix")
	if err != nil {
		return nil, ErrNotInstalled
	}
	return &Nix{Path: p}, nil
}

// interruptGrace is how long nix has after SIGINT to stop its builders before it is killed.
const interruptGrace = 10 * time.Second

// Command returns a nix command bound to ctx. nix runs in its own process group: when ctx is
// cancelled the group gets SIGINT (nix then stops its builders, which run in sessions of their
// own), and whatever is left of the group is killed once nix has exited.
func (n *Nix) Command(ctx context.Context, args ...string) *exec.Cmd {
	full := append([]string{"--extra-experimental-features", "nix-command flakes"}, n.Args...)
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, n.Path, full...)
	cmd.Env = append(os.Environ(), n.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
	cmd.WaitDelay = interruptGrace
	return cmd
}

// run executes a command that prints JSON on stdout and returns stdout, or the error nix gave.
func (n *Nix) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := n.Command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	reap(cmd)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, errorFromText(stderr.String(), err)
	}
	return out, nil
}

// reap kills what may remain of a finished command's process group.
func reap(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// BuildResult is one element of `nix build --json`.
type BuildResult struct {
	DrvPath string            `json:"drvPath"`
	Outputs map[string]string `json:"outputs"`
}

// Build runs `nix build --json --no-link --log-format internal-json` on one installable and hands
// every event to onEvent as it arrives. On failure the error is a *Error.
func (n *Nix) Build(ctx context.Context, installable string, onEvent func(*Event)) (BuildResult, error) {
	out, err := n.stream(ctx, append(append([]string{"build"}, n.LockFlags...), "--json", "--no-link", "--log-format", "internal-json", installable), onEvent)
	if err != nil {
		return BuildResult{}, err
	}
	var res []BuildResult
	if err := json.Unmarshal(out, &res); err != nil || len(res) != 1 {
		return BuildResult{}, fmt.Errorf("nix build printed unexpected output %q", iostreams.FirstLine(string(out)))
	}
	return res[0], nil
}

// stream runs a nix command that logs in internal-json, hands every event to onEvent as it
// arrives and returns stdout. On failure the error is a *Error.
func (n *Nix) stream(ctx context.Context, args []string, onEvent func(*Event)) ([]byte, error) {
	cmd := n.Command(ctx, args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nix: %w", err)
	}
	plain, errs := readEvents(stderr, onEvent)
	err = cmd.Wait()
	reap(cmd)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, buildError(errs, plain, err)
	}
	return stdout.Bytes(), nil
}

// readEvents parses nix's stderr; it returns the lines that were not events and the error
// messages among the events.
func readEvents(r io.Reader, onEvent func(*Event)) (plain []string, errs []Message) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull { // a very long log line: gather it whole
			full := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				full = append(full, line...)
			}
			line = full
		}
		if len(line) > 0 {
			e, perr := ParseLine(line)
			switch {
			case perr == nil:
				if m, ok := errorMessage(&e); ok {
					errs = append(errs, m)
				}
				if onEvent != nil {
					onEvent(&e)
				}
			case len(plain) < 200:
				if s := strings.TrimSpace(StripANSI(string(line))); s != "" {
					plain = append(plain, s)
				}
			}
		}
		if err != nil {
			return plain, errs
		}
	}
}

// Message is an error Nix reported, ANSI removed, with its source position when Nix gave one.
type Message struct {
	Text   string // the whole message
	Raw    string // the message without "error:" and the position block
	File   string
	Line   int
	Column int
}

// errorMessage returns the error an event reports, if it is one.
func errorMessage(e *Event) (Message, bool) {
	if e.Action != ActionMsg || e.Level != 0 {
		return Message{}, false
	}
	text := StripANSI(e.Msg)
	if !strings.HasPrefix(text, "error:") {
		return Message{}, false
	}
	return Message{Text: text, Raw: StripANSI(e.RawMsg), File: e.File, Line: e.Line, Column: e.Column}, true
}

// Kind sorts nix failures by what the user has to do about them.
type Kind int

const (
	OtherFailure      Kind = iota
	EvalFailure            // syntax or evaluation error, usually with a position
	MissingAttribute       // the flake has no such attribute
	BuilderFailure         // a derivation's builder failed: see its log
	UnsupportedSystem      // no way to build for the derivation's system here
)

// Error is a failed nix call: the error Nix reported, sorted, with its position and, for a
// builder failure, the derivation.
type Error struct {
	Kind    Kind
	Message Message
	Drv     string
	System  string // UnsupportedSystem: the system required
}

func (e *Error) Error() string {
	msg := oneLine(e.Message.Text, len("error: "))
	if msg == "" {
		msg = oneLine(e.Message.Raw, 0)
	}
	if e.Kind == EvalFailure && e.Message.File != "" && e.Message.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.Message.File, e.Message.Line, e.Message.Column, msg)
	}
	return msg
}

// Suggestion is nix's "Did you mean …?" line under its error (a misspelt attribute), or "".
func (e *Error) Suggestion() string {
	for _, l := range strings.Split(e.Message.Text, "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "Did you mean ") {
			return t
		}
	}
	return ""
}

// maxErrorRunes caps the one line of a nix error: a message quoting a whole file or a huge value
// stays readable.
const maxErrorRunes = 400

// logLinesRE starts the log tail nix's plain output appends to a builder failure; nixify prints
// that tail itself.
var logLinesRE = regexp.MustCompile(`^last \d+ log lines:`)

// oneLine is a nix error message (ANSI removed) as one line, without "error:". Nix indents the
// lines after the first by indent columns (the width of "error: "; 0 for a raw message): those
// continue the message and are joined to it. A line break inside a quoted value (a store path
// name with a newline in it) is shown as \n, so that the value reads as nix saw it. The message
// ends at a blank line (the position and source excerpt follow it), at a line that is not
// indented, or at a builder's log tail; a "Did you mean …?" suggestion after the position is
// kept. Longer than maxErrorRunes, the line is cut with "…".
func oneLine(text string, indent int) string {
	text = strings.TrimSpace(text)
	text = strings.TrimSpace(strings.TrimPrefix(text, "error:"))
	if text == "" {
		return ""
	}
	lines := strings.Split(text, "\n")
	var b strings.Builder
	b.WriteString(strings.TrimSpace(lines[0]))
	open := quoteOpen(false, lines[0])
	i := 1
	for ; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], " \t\r")
		body := strings.TrimLeft(l, " ")
		if len(l)-len(body) < indent && l != "" {
			break // not indented: not part of the message
		}
		if open {
			b.WriteString(`\n`)
			b.WriteString(l[min(indent, len(l)-len(body)):])
			open = quoteOpen(open, body)
			continue
		}
		if body == "" || logLinesRE.MatchString(body) {
			break
		}
		b.WriteString(" ")
		b.WriteString(body)
		open = quoteOpen(open, body)
	}
	for ; i < len(lines); i++ {
		if t := strings.TrimSpace(lines[i]); strings.HasPrefix(t, "Did you mean ") {
			b.WriteString(" ")
			b.WriteString(t)
			break
		}
	}
	s := strings.TrimSuffix(b.String(), ";")
	if r := []rune(s); len(r) > maxErrorRunes {
		s = string(r[:maxErrorRunes-1]) + "…"
	}
	return s
}

// quoteOpen reports whether a single-quoted value is still open after line, given whether one
// was open before it. An apostrophe between two letters or digits (couldn't) is not a quote.
func quoteOpen(open bool, line string) bool {
	r := []rune(line)
	for i, c := range r {
		if c != '\'' {
			continue
		}
		if i > 0 && i < len(r)-1 && isWordRune(r[i-1]) && isWordRune(r[i+1]) {
			continue
		}
		open = !open
	}
	return open
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

var (
	drvRE    = regexp.MustCompile(`builder for '(/nix/store/[^']+\.drv)' failed`)
	systemRE = regexp.MustCompile(`a '([^']+)' with features \{[^}]*\} is required to build`)
	posRE    = regexp.MustCompile(`\bat (/[^\s:]+):(\d+):(\d+)`)
)

func buildError(errs []Message, plain []string, waitErr error) error {
	if len(errs) == 0 {
		text := strings.Join(plain, "\n")
		if text == "" {
			text = "error: nix failed: " + waitErr.Error()
		}
		return errorFromText(text, waitErr)
	}
	// A failed dependency ends with "1 dependencies of derivation … failed to build": the
	// builder that failed is the error the user needs, with its log tail.
	for _, m := range errs {
		if drvRE.MatchString(m.Text) {
			return classify(m)
		}
	}
	return classify(errs[len(errs)-1])
}

// errorFromText makes an *Error from nix's plain stderr (calls without internal-json).
func errorFromText(text string, waitErr error) error {
	text = StripANSI(text)
	kept := slices.DeleteFunc(strings.Split(text, "\n"), func(l string) bool { return strings.HasPrefix(l, "warning:") })
	text = strings.TrimSpace(strings.Join(kept, "\n"))
	if i := strings.Index(text, "error:"); i >= 0 {
		text = text[i:]
	} else {
		text = "error: " + text + " (" + waitErr.Error() + ")"
	}
	return classify(Message{Text: text})
}

func classify(m Message) *Error {
	e := &Error{Kind: OtherFailure, Message: m}
	switch {
	case drvRE.MatchString(m.Text):
		e.Kind, e.Drv = BuilderFailure, drvRE.FindStringSubmatch(m.Text)[1]
	case systemRE.MatchString(m.Text):
		e.Kind, e.System = UnsupportedSystem, systemRE.FindStringSubmatch(m.Text)[1]
	case strings.Contains(m.Text, "does not provide attribute"):
		e.Kind = MissingAttribute
	case m.File != "" || posRE.MatchString(m.Text) || strings.Contains(m.Text, "syntax error"):
		e.Kind = EvalFailure
		if e.Message.File == "" {
			if p := posRE.FindStringSubmatch(m.Text); p != nil {
				e.Message.File = p[1]
				fmt.Sscan(p[2], &e.Message.Line)
				fmt.Sscan(p[3], &e.Message.Column)
			}
		}
	}
	return e
}

// Settings is what nixify reads of nix's configuration.
type Settings struct {
	System         string
	ExtraPlatforms []string
	Builders       string
	// ExperimentalFeatures is nil where nix wrote them as numbers (2.8's JSON has an internal
	// enum there); `nix show-config`'s text form names them.
	ExperimentalFeatures []string
	BuildUsersGroup      string
	Substituters         []string // binary caches, in the order Nix asks them
}

// Settings asks nix for its effective configuration (nix.conf, NIX_CONFIG and n.Args).
func (n *Nix) Settings(ctx context.Context) (Settings, error) {
	out, err := n.run(ctx, "show-config", "--json")
	if err != nil {
		return Settings{}, err
	}
	return ParseSettings(out)
}

// ParseSettings reads the output of `nix show-config --json`, for callers that run nix with
// flags of their own (doctor reads the features as configured, before nixify enables any).
func ParseSettings(out []byte) (Settings, error) {
	var raw map[string]struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return Settings{}, fmt.Errorf("nix show-config: unexpected output: %w", err)
	}
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(raw[k].Value, &s)
		return s
	}
	// A list in JSON, or older nix's one space-separated string.
	list := func(k string) []string {
		var l []string
		if json.Unmarshal(raw[k].Value, &l) == nil {
			return l
		}
		return strings.Fields(str(k))
	}
	s := Settings{System: str("system"), ExtraPlatforms: list("extra-platforms"), Builders: str("builders"),
		BuildUsersGroup: str("build-users-group"), Substituters: list("substituters")}
	var numbers []int
	if json.Unmarshal(raw["experimental-features"].Value, &numbers) != nil || len(numbers) == 0 {
		s.ExperimentalFeatures = list("experimental-features")
	}
	return s, nil
}

// Metadata is what `nix flake metadata --json` says of a flake.
type Metadata struct {
	URL          string `json:"url"`
	Path         string `json:"path"` // the flake's source in the store
	Revision     string `json:"revision"`
	LastModified int64  `json:"lastModified"`
	Locked       struct {
		NarHash string `json:"narHash"`
	} `json:"locked"`
}

// FlakeMetadata returns a flake's locked source: its narHash tells whether it changed.
func (n *Nix) FlakeMetadata(ctx context.Context, ref string) (Metadata, error) {
	out, err := n.run(ctx, append(append([]string{"flake", "metadata"}, n.LockFlags...), "--json", ref)...)
	if err != nil {
		return Metadata{}, err
	}
	var m Metadata
	if err := json.Unmarshal(out, &m); err != nil {
		return Metadata{}, fmt.Errorf("nix flake metadata: unexpected output: %w", err)
	}
	return m, nil
}

// AttrNames lists the attribute names of an attribute set in a flake, e.g. packages.x86_64-linux.
func (n *Nix) AttrNames(ctx context.Context, ref, attrPath string) ([]string, error) {
	out, err := n.run(ctx, append(append([]string{"eval"}, n.LockFlags...), "--json", ref+"#"+attrPath, "--apply", "builtins.attrNames")...)
	if err != nil {
		return nil, err
	}
	var names []string
	if err := json.Unmarshal(out, &names); err != nil {
		return nil, fmt.Errorf("nix eval: unexpected output: %w", err)
	}
	return names, nil
}
