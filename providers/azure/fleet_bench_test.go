package azure

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/custody/custodytest"
	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/azure/azuresim"
	"github.com/acquire-forensics/acquire/providers/driver"
	"path/filepath"
)

// fleetGoal is the fleet's wall time against its slowest chain's, at most.
const fleetGoal = 1.25

// BenchmarkFleet acquires the 50 VMs (100 disks) of testdata/scenarios/azure-fleet.json under 10%
// throttling of the ARM calls (Retry-After 1s) with digests deferred, and its slowest VM (the one whose
// disks hold the most data) alone the same way, and reports the fleet's wall time against that slowest
// chain's (AZURE_FLEET_TRACE=1 prints when each step ran and the calls made):
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
	acquire := func(only string) (time.Duration, int) {
		sc := load()
		sim, err := azuresim.New(sc, nil)
		if err != nil {
			b.Fatal(err)
		}
		var h http.Handler = sim
		if os.Getenv("AZURE_FLEET_TRACE") == "calls" {
			h = traceCalls(sim, time.Now())
		}
		srv := httptest.NewUnstartedServer(h)
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
		for _, vm := range src.ResourceGroups[0].VirtualMachines {
			if only != "" && vm.Name != only {
				continue
			}
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
		if os.Getenv("AZURE_FLEET_TRACE") != "" {
			traceActions(b, l, start)
			fmt.Fprintf(os.Stderr, "calls %v\n", sim.CallCounts())
		}
		calls := 0
		for _, n := range sim.CallCounts() {
			calls += n
		}
		return time.Since(start), calls / max(1, len(res.Volumes))
	}
	slowest := slowestVM(load())
	for b.Loop() {
		single, _ := acquire(slowest)
		fleet, perVolume := acquire("")
		b.ReportMetric(single.Seconds(), "single-chain-s")
		b.ReportMetric(fleet.Seconds(), "fleet-50-s")
		ratio := fleet.Seconds() / single.Seconds()
		b.ReportMetric(ratio, "fleet/chain")
		b.ReportMetric(float64(perVolume), "calls/volume")
		if ratio > fleetGoal { // the goal (issue 12): a miss fails the benchmark, and so make bench
			b.Errorf("MISSED: the fleet took %.2f times its slowest chain (%s against %s), goal <= %.2f", ratio, fleet.Round(time.Millisecond), single.Round(time.Millisecond), fleetGoal)
		}
	}
}

// slowestVM is the fleet's VM whose disks hold the most written chunks: the longest copies.
func slowestVM(sc *azuresim.Scenario) string {
	rg := sc.Subscriptions[0].ResourceGroups[0]
	chunks := map[string]int{}
	for _, d := range rg.Disks {
		if d.Synthetic != nil {
			chunks[d.Name] = len(d.Synthetic.Chunks)
		}
	}
	best, most := "", -1
	for _, vm := range rg.VirtualMachines {
		n := chunks[vm.OSDisk]
		for _, dd := range vm.DataDisks {
			n = max(n, chunks[dd.Disk])
		}
		if n > most {
			best, most = vm.Name, n
		}
	}
	return best
}

// traceActions logs when each kind of custody record was first and last written, from start.
func traceActions(b *testing.B, l *custody.Ledger, start time.Time) {
	recs, err := custody.ReadRecords(l.Dir())
	if err != nil {
		b.Fatal(err)
	}
	first, last := map[string]time.Time{}, map[string]time.Time{}
	for _, r := range recs {
		a := r.Statement.Predicate.Action
		tm, _ := time.Parse(time.RFC3339Nano, r.Statement.Predicate.Time)
		if first[a].IsZero() || tm.Before(first[a]) {
			first[a] = tm
		}
		if tm.After(last[a]) {
			last[a] = tm
		}
	}
	if os.Getenv("AZURE_FLEET_TRACE") == "2" {
		for _, r := range recs {
			if a := r.Statement.Predicate.Action; a == "snapshot.create" || a == "snapshot.wait" {
				tm, _ := time.Parse(time.RFC3339Nano, r.Statement.Predicate.Time)
				fmt.Fprintf(os.Stderr, "%s %s %s %v\n", tm.Sub(start).Round(10*time.Millisecond), a, r.Statement.Predicate.Phase, r.Statement.Predicate.Step)
			}
		}
	}
	actions := slices.SortedFunc(maps.Keys(first), func(x, y string) int { return first[x].Compare(first[y]) })
	for _, a := range actions {
		fmt.Fprintf(os.Stderr, "%-20s %8s .. %8s\n", a, first[a].Sub(start).Round(time.Millisecond), last[a].Sub(start).Round(time.Millisecond))
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

// traceCalls prints each call's start and end (from t0), status, method and path.
func traceCalls(next http.Handler, t0 time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		at := time.Since(t0)
		next.ServeHTTP(sw, r)
		fmt.Fprintf(os.Stderr, "%8s %8s %d %s %s\n", at.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond), sw.status, r.Method, r.URL.Path)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) { w.status = s; w.ResponseWriter.WriteHeader(s) }
