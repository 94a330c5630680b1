package gcp

import (
	"context"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

// TestLocalSSDIsAFinding: an instance's local SSDs, which no snapshot can take, are left out of its
// volumes and told as findings naming each device; a driver that did not describe the instance (a
// resumed run) tells them too, and so does a whole acquisition.
func TestLocalSSDIsAFinding(t *testing.T) {
	sc := scenario(t)
	sc.Projects[0].Instances[0].LocalSSDs = 2
	e := startSim(t, sc)
	d := newDriver(t, testConfig(e.url, e.keyFile))
	ctx := context.Background()
	ws, err := d.Describe(ctx, driver.Target{Location: zone, Workloads: []string{"web-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || len(ws[0].Volumes) != 2 {
		t.Fatalf("described %+v, want web-1 with its two persistent disks", ws)
	}
	web1 := instanceID(srcProject, zone, "web-1")
	check := func(where string, findings []driver.Finding) {
		t.Helper()
		var devices []string
		for _, f := range findings {
			if f.Kind != "not-acquired" {
				continue
			}
			if f.Resource != web1 || !strings.Contains(f.Detail, "NOT acquired") || !strings.Contains(f.Detail, "375 GB") {
				t.Errorf("%s: finding %+v, want web-1's local SSD, its size and that it is not acquired", where, f)
			}
			devices = append(devices, f.VolumeID)
		}
		want := []string{web1 + "/localSSD/local-ssd-0", web1 + "/localSSD/local-ssd-1"}
		if strings.Join(devices, " ") != strings.Join(want, " ") {
			t.Fatalf("%s: not-acquired findings for %q, want %q", where, devices, want)
		}
	}
	f, err := d.Exposure(ctx, ws[0].Volumes)
	if err != nil {
		t.Fatal(err)
	}
	check("after Describe", f)

	fresh := newDriver(t, testConfig(e.url, e.keyFile))
	if f, err = fresh.Exposure(ctx, ws[0].Volumes); err != nil {
		t.Fatal(err)
	}
	check("without Describe", f)

	env := harness{}.envFor(newDriver(t, testConfig(e.url, e.keyFile)), e.sim)
	res, err := providertest.Acquire(ctx, t, env, providertest.NewCase(t), env.Scenarios["two-volume-instance"], nil)
	if err != nil {
		t.Fatal(err)
	}
	check("the acquisition", res.Findings)
}
