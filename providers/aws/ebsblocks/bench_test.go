package ebsblocks

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"github.com/acquire-forensics/acquire/providers/driver"
	"iter"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/acquire-forensics/acquire/providers/aws/awssim"
)

// The acquisition goal: a digest through the EBS direct APIs runs at 85% or
// more of min(GetSnapshotBlock quota x 512 KiB, single-core SHA-256 rate),
// with 20 ms added to every block and the simulator enforcing the
// documented per-snapshot quota (1000 requests per second), in at most
// 256 MiB. Both baselines are measured in the same run:
//
//	go test ./providers/aws/ebsblocks -run '^$' -bench Digest -benchtime 1x
//
// The volume is half written, in runs of 1 to 64 blocks. 8GiB is skipped
// with -short; it writes a 4 GiB image to the temporary directory.
func BenchmarkDigest(b *testing.B) {
	for _, gib := range []int64{1, 8} {
		b.Run(strconv.FormatInt(gib, 10)+"GiB", func(b *testing.B) {
			if gib > 1 && testing.Short() {
				b.Skip("large volume skipped in -short mode")
			}
			benchmarkDigest(b, gib)
		})
	}
}

func benchmarkDigest(b *testing.B, gib int64) {
	img := buildImage(b, gib, halfWritten(gib))
	snap := startSnapshot(b, img, withFaults(awssim.Faults{BlockLatency: awssim.Duration(20 * time.Millisecond)}))
	hashRate := sha256Rate()
	quotaRate := float64(awssim.DefaultGetSnapshotBlockPerSecond) * testBlockSize
	limit := min(quotaRate, hashRate)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := watchHeap()
	cpuBefore := cpuTime()
	var res *driver.Digest
	b.ResetTimer()
	for b.Loop() {
		var err error
		if res, err = digest(b.Context(), snap.client, snap.snapshotID, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu := cpuTime() - cpuBefore
	peakHeap := peak()
	if res.ImageSHA256 != img.imageSHA256 || res.BlockListSHA256 != img.blockListSHA {
		b.Fatal("wrong digests")
	}
	secs := b.Elapsed().Seconds() / float64(b.N)
	read := float64(res.ReadBytes) / secs
	b.ReportMetric(read/(1<<20), "read-MiB/s")
	b.ReportMetric(float64(res.SizeBytes)/secs/(1<<20), "image-MiB/s")
	b.ReportMetric(hashRate/(1<<20), "sha256-MiB/s")
	b.ReportMetric(quotaRate/(1<<20), "quota-MiB/s")
	b.ReportMetric(read/limit, "ratio")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(peakHeap-before.HeapInuse)/(1<<20), "read-heap-MiB")
	// CPU used by the process, simulator included, per second of digest: on
	// a shared machine, what the ratio depends on.
	b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cores")
	if hwm := peakRSS(); hwm > 0 {
		b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MiB")
	}
}

// halfWritten puts full blocks in runs of 1 to 64 blocks, with zero runs of
// the same lengths between them: half the volume written. The blocks are
// made one at a time in one buffer, so that building the image does not
// weigh on the peak memory measured.
func halfWritten(gib int64) iter.Seq[imageWrite] {
	return func(yield func(imageWrite) bool) {
		rng := rand.New(rand.NewPCG(uint64(gib), 7))
		data := make([]byte, testBlockSize)
		blocks := gib << 30 / testBlockSize
		for i := int64(0); i < blocks; {
			run := 1 + rng.Int64N(64)
			for j := i; j < min(i+run, blocks); j++ {
				rand.NewChaCha8(blockKey(j, 9)).Read(data)
				if !yield(imageWrite{offset: j * testBlockSize, data: data}) {
					return
				}
			}
			i += 2 * run
		}
	}
}

// sha256Rate measures single-core SHA-256 throughput in bytes per second.
func sha256Rate() float64 {
	block := bytes.Repeat([]byte{0x5a}, testBlockSize)
	h := sha256.New()
	const n = 1024 // 512 MiB
	start := time.Now()
	for range n {
		h.Write(block)
	}
	h.Sum(nil)
	return n * testBlockSize / time.Since(start).Seconds()
}

// watchHeap samples the in-use heap until the returned function is called,
// which reports the largest sample.
func watchHeap() func() uint64 {
	var (
		mu   sync.Mutex
		peak uint64
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			mu.Lock()
			peak = max(peak, m.HeapInuse)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// peakRSS is the process's peak resident set (VmHWM), simulator included;
// 0 where /proc is not available.
func peakRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
