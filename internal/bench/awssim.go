package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	ebstypes "github.com/aws/aws-sdk-go-v2/service/ebs/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go/middleware"

	"github.com/acquire-forensics/acquire/providers/aws/awssim"
	"github.com/acquire-forensics/acquire/providers/aws/requestbody"
)

// The simulated account the benchmark reads from.
const (
	benchAccount  = "111111111111"
	benchRegion   = "us-east-1"
	benchVolume   = "vol-0000000000000be01"
	benchKeyID    = "AKIABENCH00000000001"
	benchSecret   = "bench-secret"
	benchBlocks   = 256 // 128 MiB of written data
	benchInFlight = 4   // SDK requests in flight, as an acquisition keeps several
	benchPhase    = 2 * time.Second
)

// awssimFigures: how fast the AWS simulator serves GetSnapshotBlock, against the single-core SHA-256
// rate over 512 KiB blocks measured in the same run. Acquisition benchmarks hash every block they read,
// so the simulator must serve blocks well above that rate (goal: twice) not to be their bottleneck. The
// handler figure is the simulator's own cost (signed requests through ServeHTTP, one goroutine); the SDK
// figure is the whole path a driver sees (real client, loopback HTTP, client and server sharing the
// cores) and is given for information.
func awssimFigures(ctx context.Context) ([]figure, error) {
	sim, err := awssim.New(benchScenario(), nil)
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	srv := httptest.NewServer(sim)
	defer srv.Close()
	cfg := aws.Config{
		Region:           benchRegion,
		Credentials:      credentials.NewStaticCredentialsProvider(benchKeyID, benchSecret, ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
		APIOptions:       []func(*middleware.Stack) error{requestbody.Guard},
	}
	snapshotID, blocks, err := benchSnapshot(ctx, cfg)
	if err != nil {
		return nil, err
	}

	shaRate := sha256BlockRate(benchPhase)
	stop := startProfile("awssim-handler")
	handlerRate, err := handlerBlockRate(ctx, sim, srv.URL, snapshotID, blocks, benchPhase)
	stop()
	if err != nil {
		return nil, err
	}
	stop = startProfile("awssim-sdk")
	sdkRate, err := sdkBlockRate(ctx, ebs.NewFromConfig(cfg), snapshotID, blocks, benchPhase)
	stop()
	if err != nil {
		return nil, err
	}

	mib := func(blocksPerSecond float64) float64 { return blocksPerSecond * awssim.BlockSize / (1 << 20) }
	base := "SHA-256 of 512 KiB blocks, 1 core"
	handlerName := "GetSnapshotBlock, signed requests through the handler, 1 goroutine"
	sdkName := fmt.Sprintf("GetSnapshotBlock, SDK client over loopback, %d in flight", benchInFlight)
	pass := handlerRate >= 2*shaRate
	return []figure{
		{area: "awssim", name: handlerName, value: handlerRate, unit: "blocks/s",
			baseline: shaRate, baseName: base, goal: ">= 2.00", pass: pass},
		{area: "awssim", name: handlerName, value: mib(handlerRate), unit: "MiB/s",
			baseline: mib(shaRate), baseName: base, goal: ">= 2.00", pass: pass},
		{area: "awssim", name: sdkName, value: sdkRate, unit: "blocks/s",
			baseline: shaRate, baseName: base, goal: "(information)", pass: true},
		{area: "awssim", name: sdkName, value: mib(sdkRate), unit: "MiB/s",
			baseline: mib(shaRate), baseName: base, goal: "(information)", pass: true},
	}, nil
}

// benchScenario is one account with one volume of benchBlocks synthetic blocks, snapshots that
// complete at once, and no GetSnapshotBlock quota: nothing but the simulator's own work limits the rate.
func benchScenario() *awssim.Scenario {
	indexes := make([]int32, benchBlocks)
	for i := range indexes {
		indexes[i] = int32(i)
	}
	return &awssim.Scenario{
		Seed:                      1,
		SnapshotBytesPerSecond:    -1,
		GetSnapshotBlockPerSecond: -1,
		Accounts: []awssim.ScenarioAccount{{
			ID:    benchAccount,
			Users: []awssim.ScenarioUser{{Name: "bench", AccessKeyID: benchKeyID, SecretAccessKey: benchSecret}},
			Volumes: []awssim.ScenarioVolume{{
				ID: benchVolume, Region: benchRegion, SizeGiB: 1,
				Synthetic: &awssim.SyntheticContent{Blocks: indexes, Seed: 7},
			}},
		}},
	}
}

// benchSnapshot snapshots the volume through the SDK and lists its blocks.
func benchSnapshot(ctx context.Context, cfg aws.Config) (string, []ebstypes.Block, error) {
	created, err := ec2.NewFromConfig(cfg).CreateSnapshot(ctx, &ec2.CreateSnapshotInput{VolumeId: aws.String(benchVolume)})
	if err != nil {
		return "", nil, err
	}
	id := aws.ToString(created.SnapshotId)
	var blocks []ebstypes.Block
	pages := ebs.NewListSnapshotBlocksPaginator(ebs.NewFromConfig(cfg), &ebs.ListSnapshotBlocksInput{SnapshotId: aws.String(id)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return "", nil, err
		}
		blocks = append(blocks, page.Blocks...)
	}
	if len(blocks) != benchBlocks {
		return "", nil, fmt.Errorf("the benchmark snapshot lists %d blocks, want %d", len(blocks), benchBlocks)
	}
	return id, blocks, nil
}

// sha256BlockRate is how many 512 KiB blocks one core hashes per second.
func sha256BlockRate(d time.Duration) float64 {
	block := make([]byte, awssim.BlockSize)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range block {
		block[i] = byte(rng.Uint32())
	}
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		sha256.Sum256(block)
		n++
	}
	return float64(n) / time.Since(start).Seconds()
}

// handlerBlockRate serves GetSnapshotBlock through the simulator's handler on one goroutine, with
// requests signed as an SDK signs them (one per block, signed once), and discards the bodies.
func handlerBlockRate(ctx context.Context, sim http.Handler, base, snapshotID string, blocks []ebstypes.Block, d time.Duration) (float64, error) {
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: benchKeyID, SecretAccessKey: benchSecret}
	emptyHash := fmt.Sprintf("%x", sha256.Sum256(nil))
	reqs := make([]*http.Request, len(blocks))
	for i, b := range blocks {
		u := base + "/snapshots/" + snapshotID + "/blocks/" + strconv.Itoa(int(aws.ToInt32(b.BlockIndex))) +
			"?blockToken=" + url.QueryEscape(aws.ToString(b.BlockToken))
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return 0, err
		}
		if err := signer.SignHTTP(ctx, creds, req, emptyHash, "ebs", benchRegion, time.Now()); err != nil {
			return 0, err
		}
		reqs[i] = req
	}
	w := &countingWriter{header: http.Header{}}
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		req := reqs[n%len(reqs)]
		req.Body = http.NoBody
		w.status, w.written = http.StatusOK, 0
		sim.ServeHTTP(w, req)
		if w.status != http.StatusOK || w.written != awssim.BlockSize {
			return 0, fmt.Errorf("GetSnapshotBlock through the handler: status %d, %d bytes", w.status, w.written)
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// countingWriter is a ResponseWriter that keeps the status and counts the body.
type countingWriter struct {
	header  http.Header
	status  int
	written int
}

func (c *countingWriter) Header() http.Header    { return c.header }
func (c *countingWriter) WriteHeader(status int) { c.status = status }
func (c *countingWriter) Write(p []byte) (int, error) {
	c.written += len(p)
	return len(p), nil
}

// sdkBlockRate reads blocks with the real SDK client over loopback HTTP, benchInFlight at a time.
func sdkBlockRate(ctx context.Context, client *ebs.Client, snapshotID string, blocks []ebstypes.Block, d time.Duration) (float64, error) {
	var served atomic.Int64
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, benchInFlight)
	deadline := time.Now().Add(d)
	start := time.Now()
	for range benchInFlight {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				b := blocks[int(next.Add(1))%len(blocks)]
				out, err := client.GetSnapshotBlock(ctx, &ebs.GetSnapshotBlockInput{
					SnapshotId: aws.String(snapshotID), BlockIndex: b.BlockIndex, BlockToken: b.BlockToken,
				})
				if err != nil {
					errs <- err
					return
				}
				n, err := io.Copy(io.Discard, out.BlockData)
				out.BlockData.Close()
				if err != nil || n != awssim.BlockSize {
					errs <- fmt.Errorf("GetSnapshotBlock over the SDK: %d bytes, %v", n, err)
					return
				}
				served.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	return float64(served.Load()) / elapsed.Seconds(), nil
}
