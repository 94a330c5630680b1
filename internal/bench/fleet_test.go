package main

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/acquire-forensics/acquire/providers/aws/awssim"
)

// TestFleetScenarioFile: the committed cloud-range file is the benchmark's fleet, and the simulator
// loads it.
func TestFleetScenarioFile(t *testing.T) {
	const path = "../../testdata/scenarios/aws-fleet.json"
	committed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.MarshalIndent(map[string]any{"aws": fleetScenario(50)}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(committed, append(want, '\n')) {
		t.Fatalf("%s differs from the benchmark's fleet: run `go run ./internal/bench -write-fleet-scenario %s`", path, path)
	}
	sc, err := awssim.LoadScenario(path)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := awssim.New(sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	if n := len(sc.Accounts[0].Instances); n != 50 {
		t.Fatalf("%d instances", n)
	}
}
