package awssim

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScenarioRefusesOutOfRange: every value outside what the format allows is refused, with the
// field and the allowed range named.
func TestScenarioRefusesOutOfRange(t *testing.T) {
	for _, tc := range []struct {
		json, field, allowed string
	}{
		{`{"faults":{"serverErrorRate":5}}`, "faults.serverErrorRate", "0 to 1"},
		{`{"faults":{"throttleMutatingRate":-0.1}}`, "faults.throttleMutatingRate", "0 to 1"},
		{`{"faults":{"throttleDescribeRate":1.5}}`, "faults.throttleDescribeRate", "0 to 1"},
		{`{"faults":{"wrongChecksumRate":2}}`, "faults.wrongChecksumRate", "0 to 1"},
		{`{"faults":{"latency":"-50ms"}}`, "faults.latency", "negative"},
		{`{"faults":{"blockLatency":-1}}`, "faults.blockLatency", "negative"},
		{`{"faults":{"consistencyDelay":"-1s"}}`, "faults.consistencyDelay", "negative"},
		{`{"faults":{"actions":["CreateSnapshot"]}}`, "faults.actions[0]", "service:Action"},
		{`{"accounts":[{"id":"111111111111","volumes":[{"id":"vol-0aaaaaaaaaaaaaaa1","region":"us-east-1","sizeGiB":-5}]}]}`, "accounts[0].volumes[0].sizeGiB", "1 to 65536"},
		{`{"accounts":[{"id":"111111111111","volumes":[{"id":"vol-0aaaaaaaaaaaaaaa1","region":"us-east-1","sizeGiB":70000}]}]}`, "accounts[0].volumes[0].sizeGiB", "1 to 65536"},
		{`{"accounts":[{"id":"111111111111","volumes":[{"id":"vol-0aaaaaaaaaaaaaaa1","region":"us-east-1","volumeType":"ssd"}]}]}`, "accounts[0].volumes[0].volumeType", "gp3"},
		{`{"accounts":[{"id":"111111111111","volumes":[{"id":"vol-0aaaaaaaaaaaaaaa1","region":"us-east-1","sizeGiB":1,"synthetic":{"blocks":[0,2048]}}]}]}`, "accounts[0].volumes[0].synthetic.blocks[1]", "0 to 2047"},
		{`{"accounts":[{"id":"111111111111","roles":[{"name":"r","trust":[],"maxSessionDuration":60}]}]}`, "accounts[0].roles[0].maxSessionDuration", "3600 to 43200"},
		{`{"accounts":[{"id":"111111111111","keys":[{"id":"k","region":"us-east-1","usage":"WRAP"}]}]}`, "accounts[0].keys[0].usage", "ENCRYPT_DECRYPT"},
		{`{"accounts":[{"id":"111111111111","instances":[{"id":"i-0aaaaaaaaaaaaaaa1","region":"us-east-1","state":"paused"}]}]}`, "accounts[0].instances[0].state", "running or stopped"},
	} {
		_, err := ParseScenario([]byte(tc.json), t.TempDir())
		if err == nil || !strings.Contains(err.Error(), tc.field+":") || !strings.Contains(err.Error(), tc.allowed) {
			t.Errorf("%s: %v; want an error naming %s and %q", tc.json, err, tc.field, tc.allowed)
		}
	}
	// New refuses the same values given in code.
	if _, err := New(&Scenario{Faults: Faults{ServerErrorRate: 5}}, nil); err == nil || !strings.Contains(err.Error(), "faults.serverErrorRate") {
		t.Errorf("New with serverErrorRate 5: %v", err)
	}
}

// TestShippedScenariosAreValid: the AWS scenarios in testdata, and the "aws" members of the
// cloud-range scenarios, pass validation. Files that describe only another cloud are that
// simulator's to check.
func TestShippedScenariosAreValid(t *testing.T) {
	paths, _ := filepath.Glob("../../../testdata/scenarios/*.json")
	checked := 0
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(data, &members); err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		_, hasAWS := members["aws"]
		_, hasGCP := members["gcp"]
		_, hasAzure := members["azure"]
		if !hasAWS && (hasGCP || hasAzure) {
			continue
		}
		checked++
		if _, err := LoadScenario(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if checked < 3 {
		t.Fatalf("validated %d AWS scenarios in testdata; want at least 3", checked)
	}
}
