package main

import (
	"bytes"
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

	rawRate := ecdsaVerifyRate(priv, 2*time.Second)
	stop := startProfile("verify")
	start := time.Now()
	r, err := custody.Verify(ctx, big, custody.VerifyOptions{Verifier: verifier})
	stop()
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	if !r.OK() {
		return nil, fmt.Errorf("benchmark case does not verify: %v", r.Problems[0])
	}
	verifyRate := float64(r.Records) / elapsed.Seconds()

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
		{area: "custody", name: fmt.Sprintf("verify %d-record case", r.Records), value: verifyRate, unit: "records/s",
			baseline: rawRate, baseName: fmt.Sprintf("raw ECDSA P-256 verifies, %d cores", cores), goal: ">= 0.80", pass: verifyRate >= 0.8*rawRate},
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

// ecdsaVerifyRate is the raw P-256 verify rate (SHA-256 digest + ecdsa.VerifyASN1) on all cores.
func ecdsaVerifyRate(priv *ecdsa.PrivateKey, d time.Duration) float64 {
	msg := bytes.Repeat([]byte("x"), 1200) // about a record's PAE
	sum := sha256.Sum256(msg)
	sig, _ := ecdsa.SignASN1(rand.Reader, priv, sum[:])
	var count atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	start := time.Now()
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
	return float64(count.Load()) / time.Since(start).Seconds()
}
