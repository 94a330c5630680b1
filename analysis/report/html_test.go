package report

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

func renderHTML(t *testing.T, r *Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := HTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// voidElements have no end tag.
var voidElements = map[string]bool{"meta": true, "br": true, "hr": true, "img": true, "link": true, "input": true, "wbr": true}

// checkWellFormed requires every element the page opens to be closed, in order: stricter than
// HTML5's error-tolerant parsing, it catches a stray value that opened or closed a tag.
func checkWellFormed(t *testing.T, page []byte) {
	t.Helper()
	z := html.NewTokenizer(bytes.NewReader(page))
	var open []string
	for {
		switch z.Next() {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				t.Fatalf("tokenizing: %v", z.Err())
			}
			if len(open) > 0 {
				t.Fatalf("elements left open at the end: %v", open)
			}
			return
		case html.StartTagToken:
			name, _ := z.TagName()
			if !voidElements[string(name)] {
				open = append(open, string(name))
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if len(open) == 0 || open[len(open)-1] != string(name) {
				t.Fatalf("</%s> closes %v", name, open)
			}
			open = open[:len(open)-1]
		case html.CommentToken:
			t.Fatalf("a comment in the page: %q", z.Token().Data)
		}
	}
}

func parseHTML(t *testing.T, page []byte) *html.Node {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func byID(doc *html.Node, id string) *html.Node {
	var found *html.Node
	walk(doc, func(n *html.Node) {
		if found == nil && n.Type == html.ElementNode && attr(n, "id") == id {
			found = n
		}
	})
	return found
}

func textOf(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}

// children returns n's element children of type a.
func children(n *html.Node, a atom.Atom) []*html.Node {
	var out []*html.Node
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.DataAtom == a {
			out = append(out, c)
		}
	}
	return out
}

// tableRows returns the body rows of the table with the given id.
func tableRows(t *testing.T, doc *html.Node, id string) []*html.Node {
	t.Helper()
	table := byID(doc, id)
	if table == nil {
		t.Fatalf("no table #%s", id)
	}
	bodies := children(table, atom.Tbody)
	if len(bodies) != 1 {
		t.Fatalf("table #%s has %d bodies", id, len(bodies))
	}
	return children(bodies[0], atom.Tr)
}

// checkDOM checks a page, as parsed or as a browser built it: every section, a timeline row of seven
// cells per record, evidence rows with their digests, no active content, and only in-page links.
func checkDOM(t *testing.T, doc *html.Node, r *Report) {
	t.Helper()
	for _, id := range []string{"verdict", "summary", "verification", "evidence", "findings", "timeline", "certification", "checks", "signature"} {
		if byID(doc, id) == nil {
			t.Errorf("no element #%s", id)
		}
	}
	rows := tableRows(t, doc, "timeline-table")
	if len(rows) != len(r.Timeline) {
		t.Errorf("timeline has %d rows for %d records", len(rows), len(r.Timeline))
	}
	for i, row := range rows {
		if cells := children(row, atom.Td); len(cells) != 7 {
			t.Errorf("timeline row %d has %d cells: %q", i+1, len(cells), textOf(row))
		}
		if i < len(r.Timeline) && attr(row, "id") != "record-"+itoa(r.Timeline[i].Seq) {
			t.Errorf("timeline row %d is #%s", i+1, attr(row, "id"))
		}
	}
	if len(r.Evidence) > 0 {
		rows := tableRows(t, doc, "evidence-table")
		if len(rows) != len(r.Evidence) {
			t.Errorf("evidence table has %d rows for %d items", len(rows), len(r.Evidence))
		}
		for i, row := range rows {
			if cells := children(row, atom.Td); len(cells) != 6 || textOf(cells[4]) != visible(r.Evidence[i].ImageSHA256) {
				t.Errorf("evidence row %d = %q, want the image SHA-256 %q", i+1, textOf(row), r.Evidence[i].ImageSHA256)
			}
		}
	}
	if rows := tableRows(t, doc, "signature"); len(rows) != 6 {
		t.Errorf("the signature block has %d rows, want 6", len(rows))
	}
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		switch n.DataAtom {
		case atom.Script, atom.Img, atom.Iframe, atom.Object, atom.Embed, atom.Form, atom.Link, atom.B:
			t.Errorf("active or injected element <%s> in the page", n.Data)
		case atom.A:
			if !strings.HasPrefix(attr(n, "href"), "#") {
				t.Errorf("a link out of the page: %q", attr(n, "href"))
			}
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("event handler attribute %s on <%s>", a.Key, n.Data)
			}
		}
	})
}

func itoa(n uint64) string { return seqsText([]uint64{n}) }

func TestHTMLWellFormedAndComplete(t *testing.T) {
	key := vectorKey(t)
	acq, acqKey := acquisitionCase(t, false)
	cases := map[string]*Report{
		"valid":           build(t, filepath.Join(vectors, "valid", "case"), key),
		"payload-changed": build(t, filepath.Join(vectors, "payload-changed", "case"), key),
		"empty-record":    build(t, filepath.Join(vectors, "empty-record", "case"), key),
		"acquisition":     build(t, acq, acqKey),
		"unpinned":        build(t, acq, nil),
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			page := renderHTML(t, r)
			checkWellFormed(t, page)
			checkDOM(t, parseHTML(t, page), r)
		})
	}
}
