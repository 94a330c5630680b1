package custody

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestSchemaDescribesRecords validates the payload of every record in the valid test vector, and of a
// record with every optional field set, against the published JSON Schema.
func TestSchemaDescribesRecords(t *testing.T) {
	c := jsonschema.NewCompiler()
	sch, err := c.Compile("../docs/custody-predicate-v1.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	validate := func(name string, payload []byte) {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(v); err != nil {
			t.Errorf("%s does not match the schema: %v", name, err)
		}
	}
	paths, _ := filepath.Glob(filepath.Join(vectorsDir, "valid", "case", RecordsDir, "*.sigstore.json"))
	if len(paths) == 0 {
		t.Fatal("no vector records")
	}
	for _, p := range paths {
		data, _ := os.ReadFile(p)
		b, _, err := parseRecord(data)
		if err != nil {
			t.Fatal(err)
		}
		validate(p, b.DSSEEnvelope.Payload)
	}
	s := testSigner(t)
	st := (&Ledger{caseID: "IR-1", opts: testOptions(s), prev: GenesisPrev}).statement(Entry{
		Action: "snapshot.create", Phase: PhaseResult, Step: "vol-1/snapshot", Token: "tok-1",
		ProviderTime: testOptions(s).Now(), Principal: "arn:aws:sts::111122223333:assumed-role/ir/alice",
		Provider: &Provider{Cloud: "aws", Account: "111122223333", Region: "eu-west-1", Zone: "eu-west-1a",
			Resources: []Resource{{Kind: "volume", ID: "vol-1"}, {Kind: "snapshot", ID: "snap-1"}}, RequestIDs: []string{"req-1"}},
		Result:   Result{Status: StatusFailed, Code: "throttled", Message: "rate exceeded"},
		Subjects: []Subject{{Name: "aws:ebs-snapshot:snap-1", Digest: map[string]string{"sha256": GenesisPrev}, Annotations: map[string]string{"kind": KindEvidence}}},
		Note:     "n", Details: map[string]any{"sizeBytes": "8589934592"},
	})
	payload, err := encodeStatement(st)
	if err != nil {
		t.Fatal(err)
	}
	validate("a record with every field", payload)
	// And the schema is not vacuous: a record without seq fails it.
	v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(bytes.Replace(payload, []byte(`"seq":1,`), nil, 1)))
	if sch.Validate(v) == nil {
		t.Error("the schema accepts a record without seq")
	}
}
