package healthserver

import (
	"fmt"
	"html"
	"io"
	"strings"
	"time"

	"github.com/nixify/nixify/pkg/health"
)

// The status page is plain HTML with inline CSS and no script: it renders in any browser, including a
// headless one in tests, and reloads itself every ten seconds. It names the container and the
// address it was reached at, says when it was rendered, and why each service last restarted. It is written with fmt and
// html.EscapeString rather than html/template, whose reflection keeps about 2 MB of otherwise dead
// code in nixify-init.
const pageHead = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="10">
<title>%s %s</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse}td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}
.pass{color:#17702f}.warn{color:#9a6700}.fail{color:#b42318}.disabled{color:#888}
</style></head>
<body>
<h1>%s <span class="%s" id="overall">%s</span></h1>
<p id="where">container %s · reached at %s · rendered <time datetime="%s">%s</time></p>
<p>version %s · phase %s · up %s</p>
<table id="services">
<thead><tr><th>service</th><th>state</th><th>uptime</th><th>restarts</th><th>status</th><th>last check</th><th>latency</th><th>detail</th></tr></thead>
<tbody>
`

const pageRow = `<tr class="service" data-service="%s"><td>%s</td><td>%s</td><td>%s</td><td class="restarts">%s</td><td class="%s">%s</td><td>%s</td><td>%s</td><td>%s</td></tr>
`

const pageFoot = `</tbody></table>
<p><a href="/health">/health</a> · <a href="/metrics">/metrics</a></p>
</body></html>
`

func renderPage(w io.Writer, in *health.Info) {
	e := html.EscapeString
	var b strings.Builder
	st := e(string(in.Status))
	rendered := in.Rendered.UTC().Format(time.RFC3339)
	fmt.Fprintf(&b, pageHead, e(in.Name), st, e(in.Name), st, st, e(in.Container), e(in.Host), rendered,
		in.Rendered.UTC().Format("2006-01-02 15:04:05 UTC"), e(in.Version), e(in.Phase),
		readable(time.Duration(in.Uptime*float64(time.Second))))
	for _, s := range in.Services {
		status := string(s.Status)
		restarts := fmt.Sprint(s.Restarts)
		if !s.LastRestart.IsZero() {
			restarts += fmt.Sprintf(" (last %s ago: %s)", readable(in.Rendered.Sub(s.LastRestart)), s.LastRestartReason)
		}
		uptime, checked := "", ""
		if s.Uptime > 0 {
			uptime = readable(time.Duration(s.Uptime * float64(time.Second)))
		}
		if !s.CheckedAt.IsZero() {
			checked = readable(time.Since(s.CheckedAt)) + " ago"
		}
		latency := ""
		if s.Latency > 0 {
			latency = readable(time.Duration(s.Latency * float64(time.Second)))
		}
		fmt.Fprintf(&b, pageRow, e(s.Name), e(s.Name), e(s.State), uptime, e(restarts), e(status), e(status), checked, latency, e(s.Output))
	}
	b.WriteString(pageFoot)
	io.WriteString(w, b.String())
}

// readable writes a duration the way a person reads it: 850 µs, 12.3 ms, 4.2 s, 3 min 20 s,
// 2 h 5 min, 3 d 4 h.
func readable(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d d %d h", int(d.Hours())/24, int(d.Hours())%24)
}
