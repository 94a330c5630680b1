package gcp

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/gcp/gcpsim"
	"github.com/acquire-forensics/acquire/providers/providertest"
)

// The worker VM is made to touch nothing but the evidence: no external IP, no service account,
// shielded, the evidence disk read-only and kept when the VM goes, the pinned image unless overridden.
func TestWorkerInstanceShape(t *testing.T) {
	d := &Driver{cfg: Config{ForensicProject: forensicProject}}
	in := d.workerInstance("dw-x", zone, diskID(forensicProject, zone, "dg-x"), map[string]string{"acquire-case": "ir-1"})
	if n := in.GetNetworkInterfaces(); len(n) != 1 || len(n[0].GetAccessConfigs()) != 0 {
		t.Errorf("network interfaces %v: want one, without an external IP", n)
	}
	if len(in.GetServiceAccounts()) != 0 {
		t.Errorf("service accounts %v: want none", in.GetServiceAccounts())
	}
	if s := in.GetShieldedInstanceConfig(); !s.GetEnableSecureBoot() || !s.GetEnableVtpm() || !s.GetEnableIntegrityMonitoring() {
		t.Errorf("shielded VM config %v", s)
	}
	disks := in.GetDisks()
	if len(disks) != 2 || !disks[0].GetBoot() || disks[0].GetInitializeParams().GetSourceImage() != DefaultWorkerImage {
		t.Fatalf("disks %v: want a boot disk from the pinned image, then the evidence", disks)
	}
	if ev := disks[1]; ev.GetMode() != "READ_ONLY" || ev.GetAutoDelete() || ev.GetDeviceName() != deviceName || !strings.HasSuffix(ev.GetSource(), "/disks/dg-x") {
		t.Errorf("evidence attachment %v: want read-only, kept, device %q", ev, deviceName)
	}
	meta := map[string]string{}
	for _, it := range in.GetMetadata().GetItems() {
		meta[it.GetKey()] = it.GetValue()
	}
	if meta["startup-script"] != digestScript || meta["enable-guest-attributes"] != "TRUE" || meta["acquire-block-size"] != "524288" {
		t.Errorf("metadata %v", meta)
	}
	d.cfg.Worker.Image = "projects/my-images/global/images/hardened-1"
	if got := d.workerInstance("dw-x", zone, "d", nil).GetDisks()[0].GetInitializeParams().GetSourceImage(); got != d.cfg.Worker.Image {
		t.Errorf("image %s, want the override", got)
	}
}

// A worker's published attributes are taken only when they hold together.
func TestDigestOfRefusesIncoherentAttributes(t *testing.T) {
	good := map[string]string{"size": "1073741824", "blocks": "2048", "block-size": "524288",
		"image-sha256": strings.Repeat("a", 64), "blocklist-sha256": strings.Repeat("b", 64)}
	if _, err := digestOf("vm", good, 1<<30); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"blocks": "2047", "block-size": "4096", "image-sha256": "xyz", "size": "big"} {
		bad := map[string]string{}
		for kk, vv := range good {
			bad[kk] = vv
		}
		bad[k] = v
		if _, err := digestOf("vm", bad, 1<<30); err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
}

// TestDigestOfRefusesWrongSize: digests of a device whose size is not the evidence snapshot's disk's
// (a wrong or truncated device) are refused, naming both sizes.
func TestDigestOfRefusesWrongSize(t *testing.T) {
	short := map[string]string{"size": "536870912", "blocks": "1024", "block-size": "524288",
		"image-sha256": strings.Repeat("a", 64), "blocklist-sha256": strings.Repeat("b", 64)}
	_, err := digestOf("vm", short, 1<<30)
	if err == nil || !strings.Contains(err.Error(), "536870912") || !strings.Contains(err.Error(), "1073741824") {
		t.Fatalf("error %v: want the digest refused naming 536870912 and 1073741824", err)
	}
	var we *workerError
	if !errors.As(err, &we) {
		t.Errorf("error %T: want a worker's failure (failed, not retried)", err)
	}
	if _, err := digestOf("vm", short, 512<<20); err != nil {
		t.Fatalf("the size of the snapshot's disk refused: %v", err)
	}
}

// TestDigestFailureCleansUp: the worker VM cannot be made (its operation ends in error): the
// acquisition fails at the digest with the cloud's word, and the disk made for it is deleted.
func TestDigestFailureCleansUp(t *testing.T) {
	h := harness{faults: gcpsim.Faults{Rules: []gcpsim.FaultRule{{Kind: gcpsim.FaultOperationError, Methods: []string{"compute.instances.insert"},
		Rate: 1, Code: "ZONE_RESOURCE_POOL_EXHAUSTED", Message: "The zone does not have enough resources available."}}}}
	env := h.New(t)
	c := providertest.NewCase(t)
	_, err := providertest.Acquire(context.Background(), t, env, c, env.Scenarios["single-volume"], nil)
	if driver.CodeOf(err) != driver.CodeFailed || !strings.Contains(err.Error(), "ZONE_RESOURCE_POOL_EXHAUSTED") {
		t.Fatalf("error %v: want failed with the operation's error", err)
	}
	if tmp := env.Inspect.Temporaries(); len(tmp) > 0 {
		t.Errorf("left behind: %v", tmp)
	}
	verifies(t, c)
}
