package azuresim

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/scenarios/azure-fleet.json")

// The committed fleet file is FleetScenario(50), and the simulator loads it.
func TestFleetScenarioFile(t *testing.T) {
	const path = "../../../testdata/scenarios/azure-fleet.json"
	want, err := json.MarshalIndent(map[string]any{"azure": FleetScenario(50)}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from FleetScenario(50): run go test ./providers/azure/azuresim -run TestFleetScenarioFile -update", path)
	}
	sc, err := LoadScenario(path)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := New(sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	if n := len(sc.Subscriptions[0].ResourceGroups[0].VirtualMachines); n != 50 {
		t.Fatalf("%d VMs", n)
	}
}

// The cloud range's web server scenario loads, over images built by
// scripts/make-images.sh (e2fsprogs; CI installs it).
func TestWebServerScenario(t *testing.T) {
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("mkfs.ext4 (e2fsprogs) is required under CI")
		}
		t.Skip("mkfs.ext4 (e2fsprogs) is not installed")
	}
	dir := t.TempDir()
	if out, err := exec.Command("bash", "../../../scripts/make-images.sh", filepath.Join(dir, "images")).CombinedOutput(); err != nil {
		t.Fatalf("make-images: %v\n%s", err, out)
	}
	data, err := os.ReadFile("../../../testdata/scenarios/compromised-web-server.json")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "scenario.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sc, err := LoadScenario(path)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := New(sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	if n := len(sim.Subscriptions()); n != 2 {
		t.Errorf("%d subscriptions", n)
	}
}
