package gcp

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/acquire-forensics/acquire/custody"
	"github.com/acquire-forensics/acquire/custody/custodytest"
	"github.com/acquire-forensics/acquire/providers/acquisition"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/gcp/gcpsim"
)

// BenchmarkFleet acquires the 50 instances (100 disks) of testdata/scenarios/gcp-fleet.json under its
// throttling (a fifth of the snapshot calls answer 429) with digests deferred, and its slowest instance
// (the one whose disks hold the most data) alone the same way, and reports the fleet's wall time
// against that slowest chain's:
//
//	go test ./providers/gcp -run '^$' -bench Fleet -benchtime 1x
func BenchmarkFleet(b *testing.B) {
	acquire := func(only string) (time.Duration, int) {
		sc, err := gcpsim.LoadScenario("../../testdata/scenarios/gcp-fleet.json")
		if err != nil {
			b.Fatal(err)
		}
		sim, err := gcpsim.New(sc, nil)
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(sim)
		defer func() { srv.Close(); sim.Close() }()
		key, err := sim.KeyFile(responder, srv.URL+"/token")
		if err != nil {
			b.Fatal(err)
		}
		keyFile := filepath.Join(b.TempDir(), "responder.json")
		if err := os.WriteFile(keyFile, key, 0o600); err != nil {
			b.Fatal(err)
		}
		d, err := New(context.Background(), Config{Project: "acme-fleet-prod", Zone: zone, ForensicProject: forensicProject,
			CredentialsFile: keyFile, Endpoint: srv.URL, PollInterval: 20 * time.Millisecond, RetryMaxBackoff: 200 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		var target driver.Target
		for _, in := range sc.Projects[1].Instances {
			if only == "" || in.Name == only {
				target.Workloads = append(target.Workloads, in.Name)
			}
		}
		s, _ := custodytest.NewSigner(b)
		l, err := custody.Create(context.Background(), filepath.Join(b.TempDir(), "case"), "IR-BENCH", custody.Options{Signer: s, Operator: "bench", Tool: custody.Tool{Name: "acquire", Version: "bench"}})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		start := time.Now()
		res, err := acquisition.New(d).Run(context.Background(), acquisition.Options{Ledger: l, Target: target, Destination: driver.Destination{Account: forensicProject},
			Digest: acquisition.DigestDefer, PollInterval: 20 * time.Millisecond, MaxPollInterval: 200 * time.Millisecond, RetryBackoff: 20 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		if os.Getenv("GCP_FLEET_TRACE") != "" && only == "" {
			recs, _ := custody.ReadRecords(l.Dir())
			first := map[string]time.Time{}
			last := map[string]time.Time{}
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
			for a := range first {
				b.Logf("%-20s %8s .. %8s", a, first[a].Sub(start).Round(time.Millisecond), last[a].Sub(start).Round(time.Millisecond))
			}
			b.Logf("calls %v", sim.CallCounts())
		}
		calls := 0
		for _, n := range sim.CallCounts() {
			calls += n
		}
		return time.Since(start), calls / max(1, len(res.Volumes))
	}
	slowest := slowestInstance(b)
	for b.Loop() {
		single, _ := acquire(slowest)
		fleet, perVolume := acquire("")
		b.ReportMetric(single.Seconds(), "single-chain-s")
		b.ReportMetric(fleet.Seconds(), "fleet-50-s")
		b.ReportMetric(fleet.Seconds()/single.Seconds(), "fleet/chain")
		b.ReportMetric(float64(perVolume), "calls/volume")
	}
}

// slowestInstance is the fleet's instance whose disks hold the most written blocks: the longest
// snapshots.
func slowestInstance(b *testing.B) string {
	sc, err := gcpsim.LoadScenario("../../testdata/scenarios/gcp-fleet.json")
	if err != nil {
		b.Fatal(err)
	}
	blocks := map[string]int{}
	for _, d := range sc.Projects[1].Disks {
		if d.Synthetic != nil {
			blocks[d.Name] = len(d.Synthetic.Blocks)
		}
	}
	best, most := "", -1
	for _, in := range sc.Projects[1].Instances {
		n := 0
		for _, a := range in.Disks {
			n = max(n, blocks[a.Disk])
		}
		if n > most {
			best, most = in.Name, n
		}
	}
	return best
}
