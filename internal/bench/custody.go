package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/acquire-forensics/acquire/custody"
)

// custodyFigures: verification throughput of a large case against the machine's raw ECDSA P-256
// verify rate on all cores, and the cost of a durable append early and late in a large case.
func custodyFigures(ctx context.Context, verifyRecords, appendRecords int) ([]figure, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sv, err := signature.LoadECDSASignerVerifier(priv, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	signer, err := custody.NewSigner(ctx, sv, "file")
	if err != nil {
		return nil, err
	}
	verifier, err := custody.NewVerifier(priv.Public())
	if err != nil {
		return nil, err
	}
	opts := custody.Options{Signer: signer, Operator: "bench", Tool: custody.Tool{Name: "acquire", Version: "bench"}}

	// The large case is built in memory-backed storage where there is some: the verifier benchmark is
	// about CPU, and building 100,000 durable records on disk would only measure the disk.
	scratch := os.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		scratch = "/dev/shm"
	}
	work, err := os.MkdirTemp(scratch, "acquire-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	big := filepath.Join(work, "big")
	fmt.Fprintf(os.Stderr, "bench: writing a %d-record case in %s ...\n", verifyRecords, work)
	if err := writeCase(ctx, big, verifyRecords, opts); err != nil {
		return nil, err
	}

	small := filepath.Join(work, "small")
	if err := writeCase(ctx, small, 10, opts); err != nil {
		return nil, err
	}

	// The machine is shared with other work, which takes cores from a wall-clock measurement at
	// random. Both rates are therefore per second of this process's CPU time (user and system, the
	// verifier's file reading included), and the raw rate is measured right before and right after
	// each of five verifications, their mean being the round's baseline; the figure is the round with
	// the median ratio. The verifier's use of the cores is given as well: CPU seconds per wall second,
	// against the cores there are.
	var rounds [][3]float64 // verify rate, raw rate, cores used
	var r *custody.Report
	for round := range 5 {
		rawBefore := ecdsaVerifyRate(priv, time.Second)
		stop := func() {}
		if round == 0 {
			stop = startProfile("verify")
		}
		start, cpu0 := time.Now(), cpuTime()
		r, err = custody.Verify(ctx, big, custody.VerifyOptions{Verifier: verifier})
		cpu, wall := cpuTime()-cpu0, time.Since(start)
		stop()
		if err != nil {
			return nil, err
		}
		if !r.OK() {
			return nil, fmt.Errorf("benchmark case does not verify: %v", r.Problems[0])
		}
		raw := (rawBefore + ecdsaVerifyRate(priv, time.Second)) / 2
		rounds = append(rounds, [3]float64{float64(r.Records) / cpu.Seconds(), raw, cpu.Seconds() / wall.Seconds()})
	}
	slices.SortFunc(rounds, func(a, b [3]float64) int { return cmp.Compare(a[0]/a[1], b[0]/b[1]) })
	median := rounds[len(rounds)/2]
	verifyRate, rawRate, coresUsed := median[0], median[1], median[2]

	// What a user waits for in `acquire custody log`: open the case (which checks the history it
	// extends), append one record, close. Measured at 10 and at 100,000 records, in turn.
	stop := startProfile("open-append")
	atSmall, atBig, err := openAppendRates(ctx, small, big, 60, opts)
	stop()
	if err != nil {
		return nil, err
	}

	// Whether an append's cost grows with the case is a property of the code: it is measured in memory-
	// backed storage, where fsync does not add the disk's noise. The rate on the real disk is given too.
	early, late, err := appendRates(ctx, filepath.Join(work, "append"), appendRecords, opts)
	if err != nil {
		return nil, err
	}
	diskDir, err := os.MkdirTemp(".", ".bench-append-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(diskDir)
	onDisk, _, err := appendRates(ctx, filepath.Join(diskDir, "case"), 3001, opts)
	if err != nil {
		return nil, err
	}

	cores := runtime.GOMAXPROCS(0)
	return []figure{
		{area: "custody", name: fmt.Sprintf("verify %d-record case", r.Records), value: verifyRate, unit: "records/CPU-s",
			baseline: rawRate, baseName: "raw ECDSA P-256 verifies", goal: ">= 0.85", pass: verifyRate >= 0.85*rawRate},
		{area: "custody", name: fmt.Sprintf("verify: CPU time per wall time, of %d cores", cores), value: 100 * coresUsed / float64(cores), unit: "%", goal: "(information: less when other work shares the machine)", pass: true},
		{area: "custody", name: fmt.Sprintf("open, append one record, close, at %d records", r.Records), value: atBig, unit: "appends/s",
			baseline: atSmall, baseName: "same at 10 records", goal: ">= 0.80", pass: atBig >= 0.8*atSmall},
		{area: "custody", name: "append with fsync, on this machine's disk", value: onDisk, unit: "records/s", goal: "(information)", pass: true},
		{area: "custody", name: fmt.Sprintf("append at %d records (memory-backed storage)", appendRecords), value: late, unit: "records/s",
			baseline: early, baseName: "same, early in the case", goal: ">= 0.80 (cost does not grow)", pass: late >= 0.8*early},
	}, nil
}

func writeCase(ctx context.Context, dir string, n int, opts custody.Options) error {
	l, err := custody.Create(ctx, dir, "BENCH", opts)
	if err != nil {
		return err
	}
	defer l.Close()
	for i := 1; i < n; i++ {
		if _, err := l.Append(ctx, custody.Entry{Action: "note", Note: fmt.Sprintf("record %d", i+1)}); err != nil {
			return err
		}
	}
	_, err = l.Checkpoint(ctx)
	return err
}

// openAppendRates opens each case, appends a record and closes it, n times in turn, and returns the
// median rate of each.
func openAppendRates(ctx context.Context, small, big string, n int, opts custody.Options) (float64, float64, error) {
	var smallRates, bigRates []float64
	once := func(dir string) (float64, error) {
		start := time.Now()
		l, err := custody.Open(ctx, dir, opts)
		if err != nil {
			return 0, err
		}
		if _, err := l.Append(ctx, custody.Entry{Action: "note", Note: "x"}); err != nil {
			l.Close()
			return 0, err
		}
		if err := l.Close(); err != nil {
			return 0, err
		}
		return 1 / time.Since(start).Seconds(), nil
	}
	for range n {
		a, err := once(small)
		if err != nil {
			return 0, 0, err
		}
		b, err := once(big)
		if err != nil {
			return 0, 0, err
		}
		smallRates, bigRates = append(smallRates, a), append(bigRates, b)
	}
	return median(smallRates), median(bigRates), nil
}

// appendRates returns records/s early and late in a case grown to n records: the median rate of the
// first three blocks of 500 appends and of the last three, so that one slow fsync does not decide.
func appendRates(ctx context.Context, dir string, n int, opts custody.Options) (early, late float64, err error) {
	l, err := custody.Create(ctx, dir, "BENCH-APPEND", opts)
	if err != nil {
		return 0, 0, err
	}
	defer l.Close()
	const block = 500
	var rates []float64
	for written := 1; written+block <= n; written += block {
		start := time.Now()
		for range block {
			if _, err := l.Append(ctx, custody.Entry{Action: "note", Note: "x"}); err != nil {
				return 0, 0, err
			}
		}
		rates = append(rates, block/time.Since(start).Seconds())
	}
	if len(rates) < 6 {
		return 0, 0, fmt.Errorf("append benchmark needs at least %d records", 6*block+1)
	}
	return median(rates[:3]), median(rates[len(rates)-3:]), nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ecdsaVerifyRate is the raw P-256 verify rate (SHA-256 digest + ecdsa.VerifyASN1) on all cores, per
// second of CPU time.
func ecdsaVerifyRate(priv *ecdsa.PrivateKey, d time.Duration) float64 {
	msg := bytes.Repeat([]byte("x"), 1200) // about a record's PAE
	sum := sha256.Sum256(msg)
	sig, _ := ecdsa.SignASN1(rand.Reader, priv, sum[:])
	var count atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	cpu0 := cpuTime()
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				h := sha256.Sum256(msg)
				if ecdsa.VerifyASN1(&priv.PublicKey, h[:], sig) {
					count.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(count.Load()) / (cpuTime() - cpu0).Seconds()
}
