package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// run executes acquire with args and an environment of its own, returning the exit code and outputs.
func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, Streams{
		In: strings.NewReader(""), Out: &out, Err: &errOut,
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	return code, out.String(), errOut.String()
}

// fixture makes a key and a sealed case with a few records, through the command line.
func fixture(t *testing.T) (dir string, env map[string]string) {
	t.Helper()
	template.once.Do(func() {
		template.dir, template.err = os.MkdirTemp("", "acquire-cli-fixture-")
		if template.err == nil {
			template.env, template.err = makeFixture(template.dir)
		}
	})
	if template.err != nil {
		t.Fatal(template.err)
	}
	// A copy of one key and case made once per test binary: every command that signs pays for the
	// key's scrypt, which the race detector makes slow.
	work := t.TempDir()
	if err := copyTree(work, template.dir); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(work, "case"), fixtureEnv(work)
}

// template is the key and case fixture copies.
var template struct {
	once sync.Once
	dir  string
	env  map[string]string
	err  error
}

func fixtureEnv(work string) map[string]string {
	return map[string]string{envPassword: "pw", envOperator: "tester", envKey: filepath.Join(work, "custody.key")}
}

// copyTree copies the files and directories under src into dst, keeping their permissions (a private
// key stays 0600, records stay read-only).
func copyTree(dst, src string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(to, info.Mode().Perm()|0o700)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, data, info.Mode().Perm())
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	if template.dir != "" {
		os.RemoveAll(template.dir)
	}
	os.Exit(code)
}

// freshFixture is fixture with a key of its own.
func freshFixture(t *testing.T) (dir string, env map[string]string) {
	t.Helper()
	work := t.TempDir()
	env, err := makeFixture(work)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(work, "case"), env
}

// makeFixture makes a key and a sealed case of four records in work, through the command line.
func makeFixture(work string) (map[string]string, error) {
	env := fixtureEnv(work)
	dir := filepath.Join(work, "case")
	steps := [][]string{
		{"keygen", "--out", filepath.Join(work, "custody")},
		{"custody", "init", dir, "--case-id", "IR-CLI", "--ticket", "IR-CLI"},
		{"custody", "log", dir, "--action", "transfer", "--note", "to lab", "--detail", "to=lab 2"},
		{"custody", "log", dir, "--action", "receipt", "--note", "received"},
		{"custody", "seal", dir},
	}
	for _, args := range steps {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), args, Streams{In: strings.NewReader(""), Out: &out, Err: &errOut,
			LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
		if code != 0 {
			return nil, fmt.Errorf("%v: exit %d: %s", args, code, errOut.String())
		}
	}
	return env, nil
}

func TestCustodyCommands(t *testing.T) {
	dir, env := fixture(t)
	pub := filepath.Join(filepath.Dir(dir), "custody.pub")

	code, out, _ := run(t, env, "verify", dir, "--key", pub)
	if code != ExitOK || !strings.Contains(out, "VERIFIED") || !strings.Contains(out, "records      4") {
		t.Fatalf("verify: %d\n%s", code, out)
	}
	code, out, _ = run(t, env, "verify", dir, "--key", pub, "-o", "json")
	var rep struct {
		OK      bool   `json:"ok"`
		Records int    `json:"records"`
		CaseID  string `json:"caseId"`
	}
	if code != ExitOK || json.Unmarshal([]byte(out), &rep) != nil || !rep.OK || rep.Records != 4 || rep.CaseID != "IR-CLI" {
		t.Fatalf("verify json: %d %+v\n%s", code, rep, out)
	}

	code, out, _ = run(t, env, "custody", "show", dir)
	if code != ExitOK || !strings.Contains(out, "transfer") || !strings.Contains(out, "received") {
		t.Fatalf("show: %d\n%s", code, out)
	}
	code, out, _ = run(t, env, "custody", "show", dir, "-o", "json")
	recs := jsonRecords(t, out)
	if code != ExitOK || len(recs) != 4 || recs[1].Predicate.Details["to"] != "lab 2" ||
		recs[0].Predicate.Authority == nil || recs[0].Predicate.Authority.Ticket != "IR-CLI" || recs[1].Predicate.Actor.Operator != "tester" {
		t.Fatalf("show json: %d\n%s", code, out)
	}

	proof := filepath.Join(t.TempDir(), "r2.tlog-proof")
	if code, _, stderr := run(t, env, "custody", "prove", dir, "2", "--out", proof); code != ExitOK {
		t.Fatalf("prove: %d %s", code, stderr)
	}
	rec2 := filepath.Join(dir, "records", "0000000002.sigstore.json")
	if code, out, _ := run(t, env, "custody", "check-proof", proof, rec2, "--key", pub); code != ExitOK || !strings.Contains(out, "OK: record 2") {
		t.Fatalf("check-proof: %d %s", code, out)
	}
	rec3 := filepath.Join(dir, "records", "0000000003.sigstore.json")
	if code, _, stderr := run(t, env, "custody", "check-proof", proof, rec3, "--key", pub); code != ExitVerifyFailed || stderr == "" {
		t.Fatalf("check-proof of the wrong record: %d %q", code, stderr)
	}
	if code, _, _ := run(t, env, "custody", "prove", dir, "9"); code != ExitNotFound {
		t.Fatalf("prove a missing record: %d", code)
	}

	code, out, _ = run(t, env, "version", "-o", "json")
	if code != ExitOK || !strings.Contains(out, `"predicateType"`) {
		t.Fatalf("version: %d %s", code, out)
	}
	code, out, _ = run(t, env, "--help")
	if code != ExitOK || !strings.Contains(out, "130  cancelled") || !strings.Contains(out, "10   verification failed") {
		t.Fatalf("help does not document exit codes: %s", out)
	}
}

func TestVerifyNamesTamperedRecord(t *testing.T) {
	dir, env := fixture(t)
	pub := filepath.Join(filepath.Dir(dir), "custody.pub")
	rec := filepath.Join(dir, "records", "0000000003.sigstore.json")
	data, _ := os.ReadFile(rec)
	i := bytes.Index(data, []byte(`"payload":"`)) + 30
	data[i] ^= 0x01
	os.Chmod(rec, 0o644)
	if err := os.WriteFile(rec, data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, env, "verify", dir, "--key", pub)
	if code != ExitVerifyFailed || !strings.Contains(out, "FAILED") || !strings.Contains(out, "record 3 (records/0000000003.sigstore.json)") || stderr != "" {
		t.Fatalf("verify of a tampered case: exit %d\n%s\nstderr: %s", code, out, stderr)
	}
}

func TestBadInputWritesNothing(t *testing.T) {
	dir, env := fixture(t)
	before, _ := os.ReadDir(filepath.Join(dir, "records"))
	wrongPassword := map[string]string{envPassword: "wrong", envKey: env[envKey], envOperator: "x"}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		msg  string
	}{
		{"wrong password", wrongPassword, []string{"custody", "log", dir, "--action", "note"}, ExitPermissionDenied, "wrong password"},
		{"missing key", map[string]string{envPassword: "pw"}, []string{"custody", "log", dir, "--action", "note", "--key", "/nonexistent.key"}, ExitNotFound, "acquire keygen"},
		{"no key at all", map[string]string{}, []string{"custody", "log", dir, "--action", "note"}, ExitUsage, "--key"},
		{"no password", map[string]string{envKey: env[envKey]}, []string{"custody", "log", dir, "--action", "note"}, ExitUsage, envPassword},
		{"unknown KMS scheme", env, []string{"custody", "log", dir, "--action", "note", "--key", "foo://k"}, ExitUsage, "unknown key scheme"},
		{"bad action", env, []string{"custody", "log", dir, "--action", "Drop Table"}, ExitUsage, "--action"},
		{"missing attachment", env, []string{"custody", "log", dir, "--action", "note", "--attach", "/nonexistent"}, ExitNotFound, "--attach"},
		{"tsa without roots", env, []string{"custody", "log", dir, "--action", "note", "--tsa", "http://127.0.0.1:1"}, ExitUsage, "--tsa-roots"},
		{"not a case", env, []string{"custody", "log", t.TempDir(), "--action", "note"}, ExitNotFound, "not a custody case"},
		{"init over a case", env, []string{"custody", "init", dir}, ExitConflict, "already a case"},
		{"bad case ID", env, []string{"custody", "init", filepath.Join(t.TempDir(), "c"), "--case-id", "a b"}, ExitUsage, "case ID"},
		{"verify a missing case", env, []string{"verify", "/nonexistent"}, ExitNotFound, "not a custody case"},
		{"unknown flag", env, []string{"verify", dir, "--bogus"}, ExitUsage, "bogus"},
		{"bad output", env, []string{"version", "-o", "yaml"}, ExitUsage, "--output"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.env, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.msg) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, tc.code, stderr, tc.msg)
			}
			if strings.Contains(stderr, "pw") && tc.env[envPassword] == "pw" {
				t.Errorf("the password appears in the error: %q", stderr)
			}
		})
	}
	after, _ := os.ReadDir(filepath.Join(dir, "records"))
	if len(after) != len(before) {
		t.Fatalf("bad input wrote records: %d before, %d after", len(before), len(after))
	}
}

func TestLockedCaseIsAConflict(t *testing.T) {
	dir, env := fixture(t)
	// Hold the case open as another writer would.
	code := make(chan int, 1)
	holder, err := openForTest(dir, env)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	go func() {
		c, _, _ := run(t, env, "custody", "log", dir, "--action", "note")
		code <- c
	}()
	if c := <-code; c != ExitConflict {
		t.Fatalf("second writer: exit %d, want %d", c, ExitConflict)
	}
}

// jsonLines reads a command's JSON Lines output: every line one object with a type.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("line %d is not a JSON object: %v\n%s", i+1, err, line)
		}
		if _, ok := obj["type"].(string); !ok {
			t.Fatalf("line %d has no type: %s", i+1, line)
		}
		lines = append(lines, obj)
	}
	return lines
}

// jsonRecords reads the records `custody show -o json` prints, one per line.
func jsonRecords(t *testing.T, out string) []recordJSON {
	t.Helper()
	var recs []recordJSON
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var r struct {
			Type string `json:"type"`
			recordJSON
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Type != "record" {
			t.Fatalf("not a record line (%v): %s", err, line)
		}
		recs = append(recs, r.recordJSON)
	}
	return recs
}

// TestJSONLines: with --output json, every line on stdout is one JSON object with a type, the result or
// the error last, the error with its exit code's name; nothing goes to stderr.
func TestJSONLines(t *testing.T) {
	dir, env := fixture(t)
	pub := filepath.Join(filepath.Dir(dir), "custody.pub")
	for _, tc := range []struct {
		args     []string
		last     string
		exitName string
	}{
		{[]string{"verify", dir, "--key", pub, "-o", "json"}, "result", ""},
		{[]string{"custody", "show", dir, "-o", "json"}, "record", ""},
		{[]string{"version", "-o", "json"}, "result", ""},
		{[]string{"iam", "aws", "-o", "json"}, "result", ""},
		{[]string{"verify", filepath.Join(t.TempDir(), "none"), "--key", pub, "-o", "json"}, "error", "not-found"},
		{[]string{"custody", "log", dir, "-o", "json"}, "error", "usage"},
	} {
		code, out, stderr := run(t, env, tc.args...)
		lines := jsonLines(t, out)
		last := lines[len(lines)-1]
		if last["type"] != tc.last || (tc.exitName != "" && (last["exitName"] != tc.exitName || last["exit"] != float64(code))) {
			t.Errorf("%v: exit %d, last line %v, want a %s line %s", tc.args, code, last, tc.last, tc.exitName)
		}
		if stderr != "" {
			t.Errorf("%v wrote to stderr with --output json: %s", tc.args, stderr)
		}
	}
}
