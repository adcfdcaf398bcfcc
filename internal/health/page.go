package health

import (
	"html/template"
	"io"
	"time"

	"github.com/nixify/nixify/pkg/health"
)

// The status page is plain HTML with inline CSS and no script: it renders in any browser, including
// a headless one in tests, and reloads itself every ten seconds.
var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"ms": func(s float64) string {
		return (time.Duration(s * float64(time.Second))).Round(100 * time.Microsecond).String()
	},
	"uptime": func(s float64) string { return (time.Duration(s) * time.Second).String() },
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="10">
<title>{{.Name}} {{.Status}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse}td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}
.pass{color:#17702f}.warn{color:#9a6700}.fail{color:#b42318}.disabled{color:#888}
</style></head>
<body>
<h1>{{.Name}} <span class="{{.Status}}" id="overall">{{.Status}}</span></h1>
<p>version {{.Version}} · phase {{.Phase}} · up {{uptime .Uptime}}</p>
<table id="services">
<thead><tr><th>service</th><th>state</th><th>port</th><th>status</th><th>latency</th><th>detail</th></tr></thead>
<tbody>
{{range .Services}}<tr class="service" data-service="{{.Name}}">
<td>{{.Name}}</td><td>{{.State}}</td><td>{{if .Port}}{{.Port}}{{end}}</td>
<td class="{{if eq .State "disabled"}}disabled{{else}}{{.Status}}{{end}}">{{if eq .State "disabled"}}disabled{{else}}{{.Status}}{{end}}</td>
<td>{{if .Latency}}{{ms .Latency}}{{end}}</td><td>{{.Output}}</td></tr>
{{end}}</tbody></table>
<p><a href="/health">/health</a> · <a href="/metrics">/metrics</a></p>
</body></html>
`))

func renderPage(w io.Writer, in *health.Info) {
	page.Execute(w, in)
}
