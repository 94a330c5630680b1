package termsafe

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostile are strings an attacker can put in a tag, a name or user data.
var hostile = []string{
	"\x1b[2J\x1b[Hrecord 7: VERIFIED",                        // clear the screen, print a fake verdict
	"\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\", // OSC 8 hyperlink
	"\x1b]0;window title\a",                                  // OSC 0: set the window title
	"\u009b31mred",                                           // 8-bit CSI (C1)
	"evil\u202egnp.exe",                                      // right-to-left override
	"a\u2066b\u2069c",                                        // bidirectional isolates
	"zero\u200bwidth",                                        // zero-width space
	"tag\U000E0041\U000E0042",                                // tag characters (invisible "AB")
	"line one\nline two\r\n\tindented",                       // line breaks
	"bad \xff\xfe bytes",                                     // not UTF-8
	"del\x7f",                                                // DEL
	"sep\u2028arator\u2029",                                  // line and paragraph separators
}

func TestStringLeavesNothingUnsafe(t *testing.T) {
	for _, s := range hostile {
		got := String(s)
		if !utf8.ValidString(got) {
			t.Errorf("String(%q) = %q: not UTF-8", s, got)
		}
		for _, r := range got {
			if Unsafe(r) {
				t.Errorf("String(%q) = %q: holds %U", s, got, r)
			}
		}
	}
	for in, want := range map[string]string{
		"\x1b[2J":       `\u001B[2J`,
		"evil\u202egnp": `evil\u202Egnp`,
		"a\nb\tc\r":     `a\nb\tc\r`,
		"x\xffy":        `x\xFFy`,
		"t\U000E0041":   `t\U000E0041`,
		"\u009b":        `\u009B`,
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStringKeepsWhatIsReadable(t *testing.T) {
	for _, s := range []string{"", "i-0abc123 vol-1", "Zoë's café, 東京, Ελλάδα", `C:\path "quoted"`, "emoji 🙂"} {
		if got := String(s); got != s {
			t.Errorf("String(%q) = %q: changed a readable string", s, got)
		}
	}
}

func TestJSONKeepsValuesAndHidesBytes(t *testing.T) {
	for _, s := range append(hostile, "plain", "Zoë 東京 🙂") {
		raw, err := json.Marshal(map[string]string{"note": s, "other": "x"})
		if err != nil {
			t.Fatal(err)
		}
		safe := JSON(raw)
		for _, r := range string(safe) {
			if Unsafe(r) {
				t.Errorf("JSON of %q holds %U: %s", s, r, safe)
			}
		}
		var before, after map[string]string
		if err := json.Unmarshal(raw, &before); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(safe, &after); err != nil {
			t.Fatalf("JSON of %q no longer parses: %v\n%s", s, err, safe)
		}
		if before["note"] != after["note"] {
			t.Errorf("JSON of %q changed the value: %q -> %q", s, before["note"], after["note"])
		}
	}
	indented := []byte("{\n\t\"a\": \"b\"\r\n}\n")
	if got := JSON(indented); string(got) != string(indented) {
		t.Errorf("JSON changed white space between values: %q", got)
	}
	if got := string(JSON([]byte(`"x` + "\xff" + `"`))); !strings.Contains(got, `\ufffd`) {
		t.Errorf("a byte that is not UTF-8 stayed raw: %q", got)
	}
}
