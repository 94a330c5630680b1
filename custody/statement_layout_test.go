package custody

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// checkLayoutAgrees fails t when the statement fast path accepts what the full decoder refuses, or
// reads it differently. It reports whether the fast path answered.
func checkLayoutAgrees(t *testing.T, payload []byte) bool {
	t.Helper()
	fast, ok := parseStatementLayout(payload)
	full, err := decodeStatementJSON(payload)
	// Reusing storage from one statement to the next (as the verifier does) reads the same.
	reused, reusedOK := parseStatementLayoutWith(payload, &testScratch)
	if reusedOK != ok || ok && !reflect.DeepEqual(reused, fast) {
		t.Fatalf("reading %q with reused storage differs:\nreused %#v\nfresh  %#v", payload, reused, fast)
	}
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("the fast path accepted what the full decoder refuses (%v): %q", err, payload)
	}
	if !reflect.DeepEqual(fast, full) {
		t.Fatalf("the fast path read %q differently:\nfast %#v\nfull %#v", payload, fast, full)
	}
	return true
}

// testScratch is reused by every checkLayoutAgrees, in turn.
var testScratch statementScratch

// ledgerPayload is the payload the ledger writes for an event with these details and note.
func ledgerPayload(t testing.TB, note string, details map[string]any, subjects ...Subject) []byte {
	t.Helper()
	if len(subjects) == 0 {
		subjects = []Subject{CaseSubject("IR-42")}
	}
	st := &Statement{Type: StatementType, Subject: subjects, PredicateType: PredicateType, Predicate: Event{
		Seq: 7, Prev: GenesisPrev, CaseID: "IR-42", Action: "snapshot.create", Phase: PhaseResult, Step: "snapshot/vol-1",
		Token: "8d0c6d0e-5b9f-5a4e-9d43-5c1c3a6b1f00", Time: "2026-11-26T12:00:01.000Z", ProviderTime: "2026-11-26T12:00:00.500Z",
		Actor:     Actor{Principal: "arn:aws:iam::111122223333:role/ir", Operator: "analyst@example.org", Host: "vm"},
		Tool:      Tool{Name: "acquire", Version: "test", Commit: "0000000"},
		Provider:  &Provider{Cloud: "aws", Account: "111122223333", Region: "eu-west-1", Zone: "eu-west-1a", Resources: []Resource{{Kind: "volume", ID: "vol-1"}, {Kind: "snapshot", ID: "snap-1"}}, RequestIDs: []string{"req-1", "req-2"}},
		Authority: &Authority{Ticket: "IR-42", Justification: "test", Approver: "lead@example.org"},
		Result:    Result{Status: StatusFailed, Code: "Throttled", Message: "rate exceeded"},
		Note:      note, Details: details, Signer: SignerInfo{KeyID: "/yjE5PYk2VFfqoWpQj1akvYKvetkdE19yXCdN6B/Hh0=", KeyRef: "file"},
	}}
	payload, err := encodeStatement(st)
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

// TestStatementLayoutReadsTheLedgersForm: whatever the ledger writes (any string, any details) takes
// the fast path, and reads as the full decoder reads it.
func TestStatementLayoutReadsTheLedgersForm(t *testing.T) {
	notes := []string{
		"", "plain", `quote " and backslash \ and slash /`, "line\nbreak\ttab\rreturn\bback\fform",
		"control \x00\x01\x1f\x7f", "unicode é ß 日本 😀 \u2028\u2029", "<script>&amp;</script>", strings.Repeat("long ", 400),
	}
	details := []map[string]any{
		nil, {}, {"nonce": "2f13c7e6a6a21621a041bc8d2d808bba"},
		{"start": map[string]any{"n": 3, "plan": []any{"vol-1", "vol-2"}, "empty": map[string]any{}, "none": []any{}}},
		{"float": 1.5, "neg": -2, "big": 1e21, "small": 1e-7, "exact": 9007199254740993, "zero": 0, "t": true, "f": false, "null": nil},
		{"é": "accent key", "😀": "emoji key", "\n": "escaped key", "\u2028": "separator key"},
		{"nested": []any{[]any{[]any{map[string]any{"deep": []any{1, "2", nil}}}}}},
	}
	subjects := []Subject{
		{Name: "artifacts/i-0abc/config.json", Digest: map[string]string{"sha256": strings.Repeat("ab", 32)}, MediaType: "application/json", URI: "s3://b/k", Annotations: map[string]string{"kind": KindArtifact, "size": "21"}},
		{Name: "evidence:vol-1", Digest: map[string]string{"sha256": strings.Repeat("cd", 32), "sha512": strings.Repeat("ef", 64)}},
	}
	for _, note := range notes {
		for _, d := range details {
			payload := ledgerPayload(t, note, d, subjects...)
			if !checkLayoutAgrees(t, payload) {
				t.Fatalf("the ledger's own payload did not take the fast path: %q", payload)
			}
		}
	}
}

// TestStatementLayoutNearMisses: crafted payloads a step away from the ledger's form. Each is either
// read the same way by both decoders or left to the full one, and never accepted by the fast path
// alone; those listed as fast must take it.
func TestStatementLayoutNearMisses(t *testing.T) {
	base := string(ledgerPayload(t, "n", map[string]any{"k": "v"}))
	if !strings.Contains(base, `"note":"n"`) || !strings.Contains(base, `"details":{"k":"v"}`) {
		t.Fatalf("unexpected base payload %s", base)
	}
	swap := func(old, new string) string {
		if !strings.Contains(base, old) {
			t.Fatalf("base payload has no %q", old)
		}
		return strings.Replace(base, old, new, 1)
	}
	cases := []struct {
		name    string
		payload string
		fast    bool // the fast path must answer
		valid   bool // the full decoder accepts it
	}{
		{"the ledger's form", base, true, true},
		// Duplicate members, at every level and through an escape.
		{"duplicate top-level member", swap(`{"_type":`, `{"_type":"x","_type":`), false, false},
		{"duplicate predicate member", swap(`"note":"n"`, `"note":"n","note":"m"`), false, false},
		{"duplicate digest name", swap(`{"sha256":`, `{"sha256":"00","sha256":`), false, false},
		{"duplicate details name", swap(`{"k":"v"}`, `{"k":"v","k":"w"}`), false, false},
		{"duplicate name through an escape", swap(`{"k":"v"}`, `{"k":"v","\u006b":"w"}`), false, false},
		{"duplicate member name through an escape", swap(`"note":"n"`, `"note":"n","\u006eote":"m"`), false, false},
		{"duplicate nested details name", swap(`{"k":"v"}`, `{"k":{"a":1,"a":2}}`), false, false},
		// Escapes and unicode.
		{"short escapes", swap(`"note":"n"`, `"note":"a\"b\\c\/d\b\f\n\r\t"`), true, true},
		{"unicode escape", swap(`"note":"n"`, `"note":"\u00e9\u0000\u001f\uFFFF"`), true, true},
		{"escaped member name", swap(`"note":"n"`, `"\u006eote":"n"`), true, true},
		{"surrogate pair escape", swap(`"note":"n"`, `"note":"\ud83d\ude00"`), false, true},
		{"lone surrogate escape", swap(`"note":"n"`, `"note":"\ud83d"`), false, false},
		{"short unicode escape", swap(`"note":"n"`, `"note":"\u00e"`), false, false},
		{"unknown escape", swap(`"note":"n"`, `"note":"\x41"`), false, false},
		{"raw control character", swap(`"note":"n"`, "\"note\":\"a\x01b\""), false, false},
		{"raw newline", swap(`"note":"n"`, "\"note\":\"a\nb\""), false, false},
		{"raw unicode", swap(`"note":"n"`, `"note":"é😀`+"\u2028"+`"`), true, true},
		{"invalid UTF-8", swap(`"note":"n"`, "\"note\":\"\xff\xfe\""), false, false},
		{"overlong UTF-8", swap(`"note":"n"`, "\"note\":\"\xc0\xaf\""), false, false},
		{"UTF-8 surrogate", swap(`"note":"n"`, "\"note\":\"\xed\xa0\x80\""), false, false},
		{"unterminated string", base[:strings.Index(base, `"note":"n"`)+9], false, false},
		// Whitespace.
		{"space after a colon", swap(`"note":"n"`, `"note": "n"`), false, true},
		{"newline between members", swap(`"note":"n",`, "\"note\":\"n\",\n"), false, true},
		{"leading space", " " + base, false, true},
		{"trailing newline", base + "\n", false, true},
		{"trailing garbage", base + "x", false, false},
		{"two values", base + base, false, false},
		// Number forms.
		{"seq with a leading zero", swap(`"seq":7`, `"seq":07`), false, false},
		{"seq as a fraction", swap(`"seq":7`, `"seq":7.0`), false, false},
		{"seq with an exponent", swap(`"seq":7`, `"seq":7e0`), false, false},
		{"negative seq", swap(`"seq":7`, `"seq":-7`), false, false},
		{"seq as a string", swap(`"seq":7`, `"seq":"7"`), false, false},
		{"largest seq", swap(`"seq":7`, `"seq":18446744073709551615`), false, true},
		{"seq of 19 digits", swap(`"seq":7`, `"seq":9999999999999999999`), true, true},
		{"seq beyond uint64", swap(`"seq":7`, `"seq":18446744073709551616`), false, false},
		{"seq of zero", swap(`"seq":7`, `"seq":0`), true, true},
		{"details number forms", swap(`{"k":"v"}`, `{"a":-0,"b":1.5e-3,"c":1E+2,"d":0.25,"e":-12,"f":1e308,"g":5e-324}`), true, true},
		{"details number beyond float64", swap(`{"k":"v"}`, `{"a":1e400}`), false, false},
		{"details number underflow", swap(`{"k":"v"}`, `{"a":1e-400}`), true, true},
		{"details number with a leading dot", swap(`{"k":"v"}`, `{"a":.5}`), false, false},
		{"details number with a leading zero", swap(`{"k":"v"}`, `{"a":01}`), false, false},
		{"details number with a plus", swap(`{"k":"v"}`, `{"a":+1}`), false, false},
		{"details number without digits after the dot", swap(`{"k":"v"}`, `{"a":1.}`), false, false},
		{"details number without exponent digits", swap(`{"k":"v"}`, `{"a":1e}`), false, false},
		{"details literals", swap(`{"k":"v"}`, `{"t":true,"f":false,"n":null,"l":[],"o":{}}`), true, true},
		{"details misspelt literal", swap(`{"k":"v"}`, `{"t":tru}`), false, false},
		{"details nested deep", swap(`{"k":"v"}`, `{"k":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`}`), false, true},
		{"details nested to the limit", swap(`{"k":"v"}`, `{"k":`+strings.Repeat("[", 31)+strings.Repeat("]", 31)+`}`), true, true},
		{"details trailing comma", swap(`{"k":"v"}`, `{"k":"v",}`), false, false},
		{"details not an object", swap(`{"k":"v"}`, `["k","v"]`), false, false},
		// Field order, names and types.
		{"members in another order", `{"subject":` + between(base, `"subject":`, `]}`) + `],"predicateType":"` + PredicateType + `","predicate":` + between(base, `"predicate":`, `,"predicateType"`) + `,"_type":"` + StatementType + `"}`, true, true},
		{"unknown member", swap(`"note":"n"`, `"note":"n","extra":1`), false, false},
		{"member in another case", swap(`"note":"n"`, `"Note":"n"`), false, false},
		{"null string", swap(`"note":"n"`, `"note":null`), false, true},
		{"null provider", swap(`"provider":`+between(base, `"provider":`, `,"providerTime"`), `"provider":null`), false, true},
		{"number for a string", swap(`"note":"n"`, `"note":1`), false, false},
		{"object for a string", swap(`"note":"n"`, `"note":{}`), false, false},
		{"empty subject list", swap(`"subject":`+between(base, `"subject":`, `]}`)+`]`, `"subject":[]`), true, true},
		{"empty maps and lists", swap(`"requestIds":["req-1","req-2"]`, `"requestIds":[]`), true, true},
		{"empty object", `{}`, true, true},
		{"not an object", `[]`, false, false},
		{"empty payload", ``, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeStatementJSON([]byte(c.payload))
			if (err == nil) != c.valid {
				t.Fatalf("the full decoder: err = %v, want valid=%v", err, c.valid)
			}
			if got := checkLayoutAgrees(t, []byte(c.payload)); got != c.fast {
				t.Fatalf("the fast path answered=%v, want %v", got, c.fast)
			}
		})
	}
}

// between is the text of s from the start of from (past it) to the first to after it.
func between(s, from, to string) string {
	i := strings.Index(s, from) + len(from)
	return s[i : i+strings.Index(s[i:], to)]
}

// seedPayloads adds the payload of every record of the published vectors, and a few of the ledger's
// richer payloads, to a fuzz corpus.
func seedPayloads(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(vectorsDir, "*", "case", RecordsDir, "*.sigstore.json"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var b struct {
			DSSEEnvelope struct{ Payload string } `json:"dsseEnvelope"`
		}
		if json.Unmarshal(data, &b) != nil {
			continue
		}
		if payload, err := base64.StdEncoding.DecodeString(b.DSSEEnvelope.Payload); err == nil {
			f.Add(payload)
		}
	}
	f.Add(ledgerPayload(f, "a\"b\\c\nd é 😀", map[string]any{"n": 1.5, "l": []any{true, nil, "s", map[string]any{"o": -1}}}))
	f.Add([]byte(`{"predicate":{"details":{"a":"\u0061","b":1e-400}},"_type":"x"}`))
}

// FuzzStatementLayout: the statement fast path accepts nothing the full decoder refuses, and reads
// what it accepts the same way.
func FuzzStatementLayout(f *testing.F) {
	seedPayloads(f)
	f.Fuzz(func(t *testing.T, payload []byte) {
		checkLayoutAgrees(t, payload)
	})
}

// TestRecordSeq: a record file is named by ten ASCII digits and ".sigstore.json", nothing else.
func TestRecordSeq(t *testing.T) {
	for name, want := range map[string]uint64{
		"0000000001.sigstore.json": 1,
		"9999999999.sigstore.json": 9999999999,
		"0000012345.sigstore.json": 12345,
	} {
		if got, ok := recordSeq(name); !ok || got != want {
			t.Errorf("recordSeq(%q) = %d, %v; want %d", name, got, ok, want)
		}
	}
	for _, name := range []string{
		"", ".sigstore.json", "000000001.sigstore.json", "00000000001.sigstore.json", "000000000a.sigstore.json",
		"-000000001.sigstore.json", "+000000001.sigstore.json", "0000000001.sigstore.json.tmp", "0000000001.sigstore.jsonx",
		"0000000001.SIGSTORE.JSON", "0000000001.sigstore", "٠٠٠٠٠٠٠٠٠١.sigstore.json", ".tmp-0000000001.sigstore.json",
		"0000000001.checkpoint.sigstore.json",
	} {
		if got, ok := recordSeq(name); ok {
			t.Errorf("recordSeq(%q) = %d, want no record", name, got)
		}
	}
}
