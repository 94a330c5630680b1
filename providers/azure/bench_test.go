package azure

import (
	"context"
	"crypto/sha256"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acquire-forensics/acquire/providers/azure/azuresim"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/evidence"
)

// BenchmarkDigestThroughSAS measures, in one run, the digest of a snapshot read through its SAS against
// the simulator's served rate (the same reads, not hashed) and one core's SHA-256, and the peak RSS:
//
//	go test ./providers/azure -run '^$' -bench DigestThroughSAS -benchtime 1x
func BenchmarkDigestThroughSAS(b *testing.B) {
	const written = 512 << 20 // bytes of written pages
	sc := scenario(b)
	chunks := make([]int64, written/azuresim.ChunkSize)
	for i := range chunks {
		chunks[i] = int64(i)
	}
	sc.SnapshotBytesPerSecond = -1
	rg := &sc.Subscriptions[0].ResourceGroups[0]
	rg.Disks = append(rg.Disks, azuresim.ScenarioDisk{Name: "bench", SizeGiB: 1, Synthetic: &azuresim.SyntheticContent{Chunks: chunks, Seed: 9}})
	_, d, _ := startSim(b, sc, nil)
	ctx := context.Background()
	v := driver.Volume{ID: diskID("bench"), Location: region}
	res, err := d.CreateSnapshots(ctx, driver.SnapshotRequest{Volume: &v, Token: "0e6c1f4b-8a3d-5b2e-9c7f-1a2b3c4d5e6f", Labels: driver.Labels{}})
	if err != nil {
		b.Fatal(err)
	}
	snap := res.Snapshots[0]
	for {
		st, err := d.SnapshotStatus(ctx, driver.Forensic, region, []string{snap.ID})
		if err != nil {
			b.Fatal(err)
		}
		if len(st) == 1 && st[0].State == driver.StateCompleted {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	rate := func(bytes int64, el time.Duration) float64 { return float64(bytes) / (1 << 20) / el.Seconds() }
	for b.Loop() {
		// The served rate: every written block read through the SAS, nothing hashed.
		src, err := d.OpenBlocks(ctx, snap)
		if err != nil {
			b.Fatal(err)
		}
		var read int64
		start := time.Now()
		if err := src.ReadBlocks(ctx, 0, func(bl driver.Block) error { read += int64(len(bl.Data)); return nil }); err != nil {
			b.Fatal(err)
		}
		served := rate(read, time.Since(start))
		if err := src.Close(ctx); err != nil {
			b.Fatal(err)
		}
		// One core's SHA-256 over the same amount.
		buf := make([]byte, 512<<10)
		h := sha256.New()
		start = time.Now()
		for n := int64(0); n < read; n += int64(len(buf)) {
			h.Write(buf)
		}
		sha := rate(read, time.Since(start))
		// The digest as the engine computes it (both digests, zeros included in the image hash).
		src, err = d.OpenBlocks(ctx, snap)
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		dg, err := evidence.Compute(ctx, src, nil)
		el := time.Since(start)
		if err := src.Close(ctx); err != nil {
			b.Fatal(err)
		}
		if err != nil {
			b.Fatal(err)
		}
		digest := rate(dg.ReadBytes, el)
		b.ReportMetric(served, "served-MiB/s")
		b.ReportMetric(sha, "sha256-MiB/s")
		b.ReportMetric(digest, "digest-MiB/s")
		b.ReportMetric(digest/min(served, sha), "digest/min(served,sha256)")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
	}
}

// peakRSS is the process's high-water resident set (Linux), 0 elsewhere.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
