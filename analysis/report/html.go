package report

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strings"
)

// HTML writes the report as one self-contained HTML page: no script, no external resource, and a
// Content-Security-Policy that allows nothing but its own style sheet, so that even a string that
// escaped escaping could neither run nor load anything. html/template escapes every value by context.
func HTML(w io.Writer, r *Report) error {
	d, err := displayCopy(r)
	if err != nil {
		return err
	}
	style, err := templates.ReadFile("templates/report.css")
	if err != nil {
		return fmt.Errorf("html style: %w", err)
	}
	sum := sha256.Sum256(style)
	csp := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; img-src 'none'; base-uri 'none'; form-action 'none'"
	funcs := template.FuncMap(viewFuncs())
	funcs["timelineFigure"] = timeline
	funcs["flowFigure"] = flow
	funcs["outcomeClass"] = func(s string) string { return strings.ReplaceAll(s, " ", "-") }
	t, err := template.New("report.html.tmpl").Funcs(funcs).ParseFS(templates, "templates/report.html.tmpl")
	if err != nil {
		return fmt.Errorf("html template: %w", err)
	}
	data := struct {
		R     *Report
		Style template.CSS // our own constant style sheet, not record data
		CSP   string
	}{d, template.CSS(style), csp}
	if err := t.Execute(w, data); err != nil {
		return fmt.Errorf("writing the html report: %w", err)
	}
	return nil
}
