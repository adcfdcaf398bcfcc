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
// headless one in tests, and reloads itself every ten seconds. It is written with fmt and
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
<p>version %s · phase %s · up %s</p>
<table id="services">
<thead><tr><th>service</th><th>state</th><th>port</th><th>status</th><th>latency</th><th>detail</th></tr></thead>
<tbody>
`

const pageRow = `<tr class="service" data-service="%s"><td>%s</td><td>%s</td><td>%s</td><td class="%s">%s</td><td>%s</td><td>%s</td></tr>
`

const pageFoot = `</tbody></table>
<p><a href="/health">/health</a> · <a href="/metrics">/metrics</a></p>
</body></html>
`

func renderPage(w io.Writer, in *health.Info) {
	e := html.EscapeString
	var b strings.Builder
	st := e(string(in.Status))
	fmt.Fprintf(&b, pageHead, e(in.Name), st, e(in.Name), st, st, e(in.Version), e(in.Phase),
		(time.Duration(in.Uptime) * time.Second).String())
	for _, s := range in.Services {
		status := string(s.Status)
		if s.State == "disabled" {
			status = "disabled"
		}
		port, latency := "", ""
		if s.Port > 0 {
			port = fmt.Sprint(s.Port)
		}
		if s.Latency > 0 {
			latency = time.Duration(s.Latency * float64(time.Second)).Round(100 * time.Microsecond).String()
		}
		fmt.Fprintf(&b, pageRow, e(s.Name), e(s.Name), e(s.State), port, e(status), e(status), latency, e(s.Output))
	}
	b.WriteString(pageFoot)
	io.WriteString(w, b.String())
}
