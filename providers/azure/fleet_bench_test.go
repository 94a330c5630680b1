package azure

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/custody/custodytest"
	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/azure/azuresim"
	"github.com/acquire-forensics/acquire/providers/driver"
	"path/filepath"
)

// BenchmarkFleet acquires the 50 VMs (100 disks) of testdata/scenarios/azure-fleet.json under 10%
// throttling of the ARM calls (Retry-After 1s) with digests deferred, and one VM alone the same way, and reports the
// fleet's wall time against that single chain's:
//
//	go test ./providers/azure -run '^$' -bench Fleet -benchtime 1x
func BenchmarkFleet(b *testing.B) {
	load := func() *azuresim.Scenario {
		sc, err := azuresim.LoadScenario("../../testdata/scenarios/azure-fleet.json")
		if err != nil {
			b.Fatal(err)
		}
		sc.RetryAfterSeconds = -1
		sc.Faults = azuresim.Faults{Seed: 11, Rules: []azuresim.FaultRule{{Kind: azuresim.FaultThrottle, Rate: 0.1, RetryAfterSeconds: 1,
			Operations: []string{"VirtualMachines_Get", "VirtualMachines_InstanceView", "Disks_Get", "Snapshots_CreateOrUpdate", "Snapshots_ListByResourceGroup", "Snapshots_List", "NetworkInterfaces_Get"}}}}
		return sc
	}
	acquire := func(vms int) (time.Duration, int) {
		sc := load()
		sim, err := azuresim.New(sc, nil)
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(sim)
		srv.TLS = sim.TLSConfig()
		srv.StartTLS()
		defer func() { srv.Close(); sim.Close() }()
		rc := clientFor(srv.URL, sim)
		p := sc.Tenants[0].Principals[0]
		cred := rc.credentialIn(b, sc.Tenants[0].ID, p.ClientID, p.ClientSecret)
		src, forensic := sc.Subscriptions[0], sc.Subscriptions[1]
		d, err := New(Config{SourceSubscription: src.ID, ForensicSubscription: forensic.ID, ForensicResourceGroup: forensic.ResourceGroups[0].Name,
			SourceCredential: cred, Cloud: rc.cloud, HTTPClient: rc.http, PollFrequency: 20 * time.Millisecond, RetryDelay: 20 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		var target driver.Target
		for _, vm := range src.ResourceGroups[0].VirtualMachines[:vms] {
			target.Workloads = append(target.Workloads, fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s", src.ID, src.ResourceGroups[0].Name, vm.Name))
		}
		start := time.Now()
		l := caseFor(b)
		defer l.Close()
		res, err := acquisition.New(d).Run(context.Background(), acquisition.Options{Ledger: l, Target: target, Destination: driver.Destination{Account: forensic.ID},
			Digest: acquisition.DigestDefer, PollInterval: 20 * time.Millisecond, MaxPollInterval: 200 * time.Millisecond, RetryBackoff: 20 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		calls := 0
		for _, n := range sim.CallCounts() {
			calls += n
		}
		return time.Since(start), calls / max(1, len(res.Volumes))
	}
	for b.Loop() {
		single, _ := acquire(1)
		fleet, perVolume := acquire(50)
		b.ReportMetric(single.Seconds(), "single-chain-s")
		b.ReportMetric(fleet.Seconds(), "fleet-50-s")
		b.ReportMetric(fleet.Seconds()/single.Seconds(), "fleet/chain")
		b.ReportMetric(float64(perVolume), "calls/volume")
	}
}

// caseFor is a fresh case for a benchmark.
func caseFor(b *testing.B) *custody.Ledger {
	s, _ := custodytest.NewSigner(b)
	l, err := custody.Create(context.Background(), filepath.Join(b.TempDir(), "case"), "IR-BENCH", custody.Options{Signer: s, Operator: "bench", Tool: custody.Tool{Name: "acquire", Version: "bench"}})
	if err != nil {
		b.Fatal(err)
	}
	return l
}
