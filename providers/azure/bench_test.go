package azure

import (
	"context"
	"crypto/sha256"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/pageblob"
	"golang.org/x/sync/errgroup"

	"github.com/acquire-forensics/acquire/providers/azure/azuresim"
	"github.com/acquire-forensics/acquire/providers/azure/sasblocks"
	"github.com/acquire-forensics/acquire/providers/driver"
	"github.com/acquire-forensics/acquire/providers/evidence"
)

// The digest's goals: its rate against min(served, SHA-256), and its peak RSS.
const (
	digestGoal = 0.85
	rssGoalMiB = 256
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
		// The served rate: the same ranged reads through the same TLS client, nothing checked or hashed.
		cpu0, wall0 := cpuTime(), time.Now()
		served := servedRate(b, ctx, d, snap)
		servedCPU, servedWall := cpuTime()-cpu0, time.Since(wall0)
		// One core's SHA-256 over the same amount.
		buf := make([]byte, 512<<10)
		h := sha256.New()
		const hashed = written
		start := time.Now()
		for n := int64(0); n < hashed; n += int64(len(buf)) {
			h.Write(buf)
		}
		sha := rate(hashed, time.Since(start))
		// The digest as the engine computes it (both digests, zeros included in the image hash).
		src, err := d.OpenBlocks(ctx, snap)
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		cpu0 = cpuTime()
		dg, err := evidence.Compute(ctx, src, nil)
		el := time.Since(start)
		digestCPU := cpuTime() - cpu0
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
		ratio, rss := digest/min(served, sha), float64(peakRSS())/(1<<20)
		b.ReportMetric(ratio, "digest/min(served,sha256)")
		b.ReportMetric(rss, "peak-RSS-MiB")
		// Where the time goes: cores busy (client and simulator together) and CPU per MiB in each phase.
		mib := float64(dg.ReadBytes) / (1 << 20)
		b.ReportMetric(servedCPU.Seconds()/servedWall.Seconds(), "served-cores")
		b.ReportMetric(digestCPU.Seconds()/el.Seconds(), "digest-cores")
		b.ReportMetric(servedCPU.Seconds()*1000/(float64(written)/(1<<20)), "served-cpu-ms/MiB")
		b.ReportMetric(digestCPU.Seconds()*1000/mib, "digest-cpu-ms/MiB")
		// The best ratio the digest could reach where the simulator shares the cores (both phases
		// CPU-bound): its served cost plus the two SHA-256 passes it cannot skip (the image, zeros
		// included, and the listed blocks) at the one-core rate, with MD5 and all else free.
		shaMsPerMiB := (float64(dg.SizeBytes)/float64(dg.ReadBytes) + 1) * 1000 / sha
		servedMs := servedCPU.Seconds() * 1000 / (float64(written) / (1 << 20))
		b.ReportMetric(servedMs/(servedMs+shaMsPerMiB), "ceiling-sha-only")
		// A failed benchmark prints no metrics: the figures go to the log as well.
		b.Logf("digest %.0f MiB/s, served %.0f MiB/s, SHA-256 %.0f MiB/s, ratio %.2f (ceiling %.2f), CPU %.2f against %.2f ms/MiB, peak RSS %.0f MiB",
			digest, served, sha, ratio, servedMs/(servedMs+shaMsPerMiB), digestCPU.Seconds()*1000/mib, servedMs, rss)
		// The goals (issue 12): a miss fails the benchmark, and so make bench.
		if ratio < digestGoal {
			b.Errorf("MISSED: the digest ran at %.2f of min(served %.0f MiB/s, SHA-256 %.0f MiB/s), goal >= %.2f", ratio, served, sha, digestGoal)
		}
		if rss > rssGoalMiB {
			b.Errorf("MISSED: peak RSS %.0f MiB, goal <= %d MiB", rss, rssGoalMiB)
		}
	}
}

// cpuTime is the process's CPU time, user and system (the simulator's included: it serves in-process).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// servedRate is how fast the simulator serves the snapshot's written blocks to the reads the digest
// makes (the same SAS, TLS client, read size, Content-MD5 asked for, reads in flight), with nothing
// checked or hashed on the client: the digest's ceiling on this machine, in MiB/s.
func servedRate(b *testing.B, ctx context.Context, d *Driver, snap driver.Snapshot) float64 {
	rid, err := parseID(snap.ID, "snapshots")
	if err != nil {
		b.Fatal(err)
	}
	c, err := d.side(driver.Forensic, rid.SubscriptionID)
	if err != nil {
		b.Fatal(err)
	}
	snaps := c.compute.NewSnapshotsClient()
	p, err := snaps.BeginGrantAccess(ctx, rid.ResourceGroupName, rid.Name, armcompute.GrantAccessData{
		Access: to.Ptr(armcompute.AccessLevelRead), DurationInSeconds: to.Ptr(int32(600))}, nil)
	if err != nil {
		b.Fatal(err)
	}
	out, err := wait(ctx, d, p)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		p, err := snaps.BeginRevokeAccess(ctx, rid.ResourceGroupName, rid.Name, nil)
		if err == nil {
			_, err = wait(ctx, d, p)
		}
		if err != nil {
			b.Fatal(err)
		}
	}()
	co := &pageblob.ClientOptions{ClientOptions: d.clientOptions(driver.Forensic)}
	co.PerCallPolicies = nil
	client, err := pageblob.NewClientWithNoCredential(*out.AccessSAS, co)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	var reads []blob.HTTPRange
	pager := client.NewGetPageRangesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range page.PageList.PageRange {
			for off := *r.Start; off <= *r.End; off += sasblocks.ReadSize {
				reads = append(reads, blob.HTTPRange{Offset: off, Count: min(sasblocks.ReadSize, *r.End+1-off)})
			}
		}
	}
	var read atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(sasblocks.DefaultConcurrency)
	pool := sync.Pool{New: func() any { return make([]byte, sasblocks.ReadSize) }}
	for _, r := range reads {
		g.Go(func() error {
			resp, err := client.DownloadStream(gctx, &blob.DownloadStreamOptions{Range: r, RangeGetContentMD5: to.Ptr(true)})
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			buf := pool.Get().([]byte)
			defer pool.Put(buf)
			n, err := io.ReadFull(resp.Body, buf[:r.Count])
			read.Add(int64(n))
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	return float64(read.Load()) / (1 << 20) / time.Since(start).Seconds()
}
