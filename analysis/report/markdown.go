package report

import (
	"embed"
	"fmt"
	"io"
	"text/template"
)

//go:embed templates
var templates embed.FS

// Markdown writes the report as Markdown (CommonMark with GitHub tables). Every string from the case is
// escaped, so that no record can add a link, an image, raw HTML or a table cell of its own.
func Markdown(w io.Writer, r *Report) error {
	d, err := displayCopy(r)
	if err != nil {
		return err
	}
	funcs := template.FuncMap(viewFuncs())
	funcs["md"] = mdText
	funcs["code"] = mdCode
	t, err := template.New("report.md.tmpl").Funcs(funcs).ParseFS(templates, "templates/report.md.tmpl")
	if err != nil {
		return fmt.Errorf("markdown template: %w", err)
	}
	if err := t.Execute(w, d); err != nil {
		return fmt.Errorf("writing the markdown report: %w", err)
	}
	return nil
}
