package report

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// unescapedAt lists the positions of ch in md that are not escaped by an odd run of backslashes.
func unescapedAt(md string, ch byte) []int {
	var out []int
	for i := 0; i < len(md); i++ {
		if md[i] != ch {
			continue
		}
		n := 0
		for j := i - 1; j >= 0 && md[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			out = append(out, i)
		}
	}
	return out
}

// checkMarkdownInert checks that record strings cannot act as Markdown: no raw HTML, link, image or
// entity, code spans only around identifiers, and every table row with as many cells as its header.
func checkMarkdownInert(t *testing.T, md string) {
	t.Helper()
	for _, ch := range []byte{'<', '>', '[', ']', '&', '~'} {
		for _, i := range unescapedAt(md, ch) {
			if ch == '>' && (i == 0 || md[i-1] == '\n') {
				continue // the report's own block quotes
			}
			t.Errorf("unescaped %q in the Markdown, e.g. %q", ch, md[max(0, i-40):min(len(md), i+40)])
			break
		}
	}
	ticks := unescapedAt(md, '`')
	if len(ticks)%2 != 0 {
		t.Errorf("an odd number of unescaped backticks: %d", len(ticks))
	}
	for i := 0; i+1 < len(ticks); i += 2 {
		if span := md[ticks[i]+1 : ticks[i+1]]; span != "evidence" && !codeSafe.MatchString(span) {
			t.Errorf("a code span around %q", span)
		}
	}
	if strings.ContainsRune(md, '\u202E') || strings.Contains(md, "\r") {
		t.Error("a hidden character reached the Markdown")
	}
	lines := strings.Split(md, "\n")
	cells := -1
	for i, line := range lines {
		if !strings.HasPrefix(line, "|") {
			cells = -1
			if strings.HasPrefix(line, "line two") || strings.HasPrefix(line, "| injected") {
				t.Errorf("line %d was injected: %q", i+1, line)
			}
			continue
		}
		n := len(unescapedAt(line, '|'))
		if cells == -1 {
			cells = n
		} else if n != cells {
			t.Errorf("line %d has %d cell separators, its table %d: %q", i+1, n, cells, line)
		}
	}
}

func TestHostileStringsAreEscaped(t *testing.T) {
	dir, key := acquisitionCase(t, true)
	r := build(t, dir, key)
	if !r.Verification.OK {
		t.Fatalf("the fixture does not verify: %v", r.Verification.Result.Problems)
	}

	var md bytes.Buffer
	if err := Markdown(&md, r); err != nil {
		t.Fatal(err)
	}
	checkMarkdownInert(t, md.String())
	// The hostile text is shown, escaped, not dropped.
	for _, s := range []string{`\<script\>alert(1)\</script\>`, `a \| b \|\| c`, `invoice\\u202Etxt.exe`, `line one\\nline two\\r\\n\| injected \| row \|`} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("the Markdown does not show %q", s)
		}
	}

	page := renderHTML(t, r)
	checkWellFormed(t, page)
	doc := parseHTML(t, page)
	checkDOM(t, doc, r)
	text := textOf(doc)
	for _, s := range []string{hostileScript, hostilePipe, "</td></tr></table>", "<b>bold</b>", `invoice\u202Etxt.exe`, `line one\nline two`} {
		if !strings.Contains(text, s) {
			t.Errorf("the page's text does not show %q", s)
		}
	}
	if strings.ContainsRune(text, '\u202E') {
		t.Error("a bidirectional override reached the page")
	}
}

// TestEveryStringEscaped poisons every string of a report, whatever field it is in, and renders it:
// no field may reach either format unescaped.
func TestEveryStringEscaped(t *testing.T) {
	dir, key := acquisitionCase(t, false)
	r := build(t, dir, key)
	poisoned, err := displayCopy(r) // a deep copy to poison
	if err != nil {
		t.Fatal(err)
	}
	poison(t, poisoned)

	var md bytes.Buffer
	if err := Markdown(&md, poisoned); err != nil {
		t.Fatal(err)
	}
	checkMarkdownInert(t, md.String())
	page := renderHTML(t, poisoned)
	checkWellFormed(t, page)
	doc := parseHTML(t, page)
	walkElements(doc, func(name string) {
		if name == "script" || name == "b" || name == "img" {
			t.Errorf("<%s> injected into the page", name)
		}
	})
}

// poison appends hostile text to every string of r.
func poison(t *testing.T, r *Report) {
	t.Helper()
	rewriteStrings(reflect.ValueOf(r).Elem(), func(s string) string { return s + hostileAll })
	if !strings.Contains(r.Case.CaseID, hostileScript) || !strings.Contains(r.Timeline[0].Event.Actor.Operator, hostileScript) {
		t.Fatal("poisoning missed fields")
	}
}

func walkElements(doc *html.Node, f func(name string)) {
	walk(doc, func(n *html.Node) {
		if n.Type == html.ElementNode {
			f(n.Data)
		}
	})
}
