package report

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/acquire-forensics/acquire/internal/termsafe"
)

// visible returns s with what a reader could not see shown as escapes: control characters (line
// breaks included, so that one value stays on one line), format characters such as bidirectional
// overrides and zero-width characters (which can make text read differently from what it is), and
// bytes that are not UTF-8. The JSON form keeps the exact strings.
func visible(s string) string { return termsafe.String(s) }

// mdSpecial are the characters that can start Markdown (CommonMark and GitHub's extensions) syntax
// inside a line: emphasis, code, links and images, raw HTML and entities, table cells, strikethrough.
// CommonMark lets any ASCII punctuation be escaped with a backslash.
const mdSpecial = "\\`*_[]<>|&~#!"

// mdText makes s inert Markdown text for a line or a table cell.
func mdText(s string) string {
	s = visible(s)
	if !strings.ContainsAny(s, mdSpecial) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf && strings.ContainsRune(mdSpecial, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// codeSafe are the strings shown as code: digests, IDs, ARNs. Anything else is shown as text, since
// no escaping is possible inside a Markdown code span.
var codeSafe = regexp.MustCompile(`^[A-Za-z0-9+/=:._@-]+$`)

// mdCode shows an identifier or digest as a code span when that is safe, as escaped text otherwise.
func mdCode(s string) string {
	if s != "" && codeSafe.MatchString(s) {
		return "`" + s + "`"
	}
	return mdText(s)
}

// humanBytes is a size as bytes and in binary units.
func humanBytes(n int64) string {
	if n <= 0 {
		return ""
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	v, u := float64(n)/1024, 0
	for v >= 1024 && u < len(units)-1 {
		v, u = v/1024, u+1
	}
	return fmt.Sprintf("%d bytes (%.2f %s)", n, v, units[u])
}
