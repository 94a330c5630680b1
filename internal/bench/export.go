package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/acquire-forensics/acquire/analysis/export"
	awsdriver "github.com/acquire-forensics/acquire/providers/aws"
	"github.com/acquire-forensics/acquire/providers/aws/awssim"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/evidence"
)

// exportFigures: `acquire export` of a 2 GiB volume, half written, through the simulator with the
// per-snapshot quota enforced, to this machine's disk: MiB/s of data read against the smallest of
// the quota, the single-core SHA-256 rate and the disk's write rate, all measured in the same run;
// the rate the machine's cores would allow at the CPU cost per byte the export was measured at; and
// the peak heap during the export.
func exportFigures(ctx context.Context) ([]figure, error) {
	const gibs = 2
	var blocks []int32
	for i := int32(0); i < gibs*2048; i += 2 {
		blocks = append(blocks, i)
	}
	sc := &awssim.Scenario{Seed: 1, SnapshotBytesPerSecond: -1, Accounts: []awssim.ScenarioAccount{{ID: fleetForensic,
		Users:   []awssim.ScenarioUser{{Name: "examiner", AccessKeyID: "AKIAFLEETFORENSIC001", SecretAccessKey: "fleet-forensic-secret"}},
		Volumes: []awssim.ScenarioVolume{{ID: "vol-0e0000000000000e1", Region: fleetRegion, SizeGiB: gibs, Synthetic: &awssim.SyntheticContent{Blocks: blocks, Seed: 3}}}}}}
	sim, err := awssim.New(sc, nil)
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	srv := httptest.NewServer(sim)
	defer srv.Close()
	creds := credentials.NewStaticCredentialsProvider("AKIAFLEETFORENSIC001", "fleet-forensic-secret", "")
	d, err := awsdriver.New(ctx, awsdriver.Config{Region: fleetRegion, ForensicAccount: fleetForensic, Endpoint: srv.URL, SourceCredentials: creds, ForensicCredentials: creds})
	if err != nil {
		return nil, err
	}
	// The same account plays both sides here: the snapshot is taken and read in it.
	made, err := d.CreateSnapshots(ctx, driver.SnapshotRequest{Volume: &driver.Volume{ID: "vol-0e0000000000000e1", Location: fleetRegion}})
	if err != nil {
		return nil, err
	}
	snap := made.Snapshots[0]
	snap.Side = driver.Forensic // the same account plays both sides
	// The digest the case would have recorded, taken the same way an acquisition takes it.
	first, err := d.OpenBlocks(ctx, snap)
	if err != nil {
		return nil, err
	}
	dg, err := evidence.Compute(ctx, first, nil)
	if err != nil {
		return nil, err
	}
	item := evidence.Item{Cloud: "aws", Snapshot: snap.ID, SourceVolume: "vol-0e0000000000000e1", Location: fleetRegion, SizeBytes: dg.SizeBytes,
		DigestStatus: evidence.DigestComputed, Digest: &dg}

	dir, err := os.MkdirTemp(".", ".bench-export-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// The disk of a virtual machine varies from one second to the next: each rate is the median of
	// three runs, the disk's and the export's alike.
	var diskRates []float64
	for range 3 {
		r, err := diskWriteRate(filepath.Join(dir, "disk-rate"), 1<<30)
		if err != nil {
			return nil, err
		}
		diskRates = append(diskRates, r)
	}
	diskRate := median(diskRates)
	hashRate := sha256BlockRate(2*time.Second) * (512 << 10)
	quotaRate := float64(awssim.DefaultGetSnapshotBlockPerSecond) * (512 << 10)

	var rates, busy []float64 // busy: the share of all cores in use during each export
	var peakHeap uint64
	for run := range 3 {
		src, err := d.OpenBlocks(ctx, snap)
		if err != nil {
			return nil, err
		}
		out := filepath.Join(dir, fmt.Sprint("run", run))
		peak := watchHeap()
		stop := startProfile("export")
		cpu0, cpuErr := readCPUTimes()
		start := time.Now()
		res, err := export.Export(ctx, item, src, out, nil)
		elapsed := time.Since(start)
		cpu1, cpuErr1 := readCPUTimes()
		stop()
		peakHeap = max(peakHeap, peak())
		if err != nil {
			return nil, err
		}
		rates = append(rates, float64(res.Downloaded)/elapsed.Seconds())
		if cpuErr == nil && cpuErr1 == nil {
			busy = append(busy, cpu1.busyShareSince(cpu0))
		}
		os.RemoveAll(out)
	}
	rate := median(rates)
	limit := min(quotaRate, hashRate, diskRate)
	mib := func(v float64) float64 { return v / (1 << 20) }
	figs := []figure{
		{area: "export", name: fmt.Sprintf("export of a %d GiB volume, half written", gibs), value: mib(rate), unit: "MiB/s",
			baseline: mib(limit), baseName: fmt.Sprintf("min(quota %.0f, SHA-256 %.0f, disk %.0f MiB/s)", mib(quotaRate), mib(hashRate), mib(diskRate)),
			goal: ">= 0.80", pass: rate >= 0.8*limit},
	}
	if len(busy) == len(rates) {
		// The export, the simulated cloud it reads from and the kernel share this machine's cores: at
		// the CPU cost per byte measured, this is as fast as the export could go with every core busy.
		share := median(busy)
		ceiling := rate / share
		coreSecPerGiB := float64(runtime.NumCPU()) * share / (rate / (1 << 30))
		figs = append(figs, figure{area: "export", name: fmt.Sprintf("CPU ceiling: %d cores at %.1f core-s per GiB (export, simulated cloud, kernel; %.0f%% busy)", runtime.NumCPU(), coreSecPerGiB, 100*share),
			value: mib(ceiling), unit: "MiB/s", baseline: mib(limit), baseName: "the same limit", goal: "(information)", pass: true})
	}
	figs = append(figs, figure{area: "export", name: "peak heap during the export", value: float64(peakHeap) / (1 << 20), unit: "MiB", goal: "bounded by blocks in flight (64 x 0.5 MiB)", pass: peakHeap < 256<<20})
	return figs, nil
}

// cpuTimes are the machine's CPU times from /proc/stat, in clock ticks.
type cpuTimes struct{ busy, total float64 }

func readCPUTimes() (cpuTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(fields) < 9 || fields[0] != "cpu" {
		return cpuTimes{}, fmt.Errorf("unexpected /proc/stat: %q", line)
	}
	var t cpuTimes
	for i, f := range fields[1:] {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return cpuTimes{}, err
		}
		t.total += v
		if i != 3 && i != 4 { // idle and iowait are free cores
			t.busy += v
		}
	}
	return t, nil
}

// busyShareSince is the share of all cores that was busy between then and t.
func (t cpuTimes) busyShareSince(then cpuTimes) float64 {
	if t.total == then.total {
		return 1
	}
	return (t.busy - then.busy) / (t.total - then.total)
}

// diskWriteRate writes n bytes to a file and syncs it: the disk's sequential write rate.
func diskWriteRate(path string, n int) (float64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer os.Remove(path)
	defer f.Close()
	buf := bytes.Repeat([]byte{0xa5}, 1<<20)
	start := time.Now()
	for written := 0; written < n; written += len(buf) {
		if _, err := f.Write(buf); err != nil {
			return 0, err
		}
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// watchHeap samples the in-use heap until the returned function is called, which gives the peak.
func watchHeap() func() uint64 {
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		var peak uint64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-stop:
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}
