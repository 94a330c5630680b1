// Package termsafe makes strings from records and clouds safe to print on a terminal. Those strings
// come from an attacker (instance tags, user data, names chosen in the compromised account): printed
// raw, they can move the cursor, rewrite earlier lines, set the window title, plant hyperlinks (ANSI
// and OSC escape sequences), or make text read differently from what it is (bidirectional overrides,
// zero-width and tag characters).
//
// String shows every such character as a visible escape; JSON rewrites them as \u escapes inside
// JSON text, which leaves every decoded value exactly as it was.
package termsafe

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Unsafe reports whether r must not reach a terminal as itself: control characters (C0, DEL and C1,
// which include ESC and the 8-bit CSI and OSC introducers), format characters (bidirectional
// overrides and isolates, zero-width characters, tag characters) and the line and paragraph
// separators.
func Unsafe(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r)
}

// String returns s with every unsafe character shown as an escape (\n, \r, \t, \x1B as \u001B, U+202E
// as \u202E) and every byte that is not UTF-8 as \xNN, so that the result prints on one line and
// reads as what it is.
func String(s string) string {
	if plain(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02X`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case Unsafe(r) && r > 0xFFFF:
			fmt.Fprintf(&b, `\U%08X`, r)
		case Unsafe(r):
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// plain reports whether s is printable ASCII, which needs no escaping.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7F {
			return false
		}
	}
	return true
}

// JSON returns JSON text with every unsafe character written as a \u escape (a surrogate pair above
// U+FFFF) and every byte that is not UTF-8 as \uFFFD. Outside strings JSON holds only ASCII
// punctuation, digits, letters and white space, which are left alone, so the text decodes to exactly
// the same values; only its raw bytes change.
func JSON(data []byte) []byte {
	if plainJSON(data) {
		return data
	}
	out := make([]byte, 0, len(data)+32)
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			out = append(out, `\ufffd`...)
		case r < utf8.RuneSelf && (r >= 0x20 && r != 0x7F || r == '\n' || r == '\r' || r == '\t'):
			out = append(out, byte(r)) // JSON white space between values, and printable ASCII
		case Unsafe(r) && r > 0xFFFF:
			hi, lo := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, hi, lo)
		case Unsafe(r):
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			out = append(out, data[i:i+size]...)
		}
		i += size
	}
	return out
}

func plainJSON(data []byte) bool {
	for _, c := range data {
		if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c >= 0x7F {
			return false
		}
	}
	return true
}
