package awssim

import (
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	ebstypes "github.com/aws/aws-sdk-go-v2/service/ebs/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// The simulator must not be the bottleneck of acquisition benchmarks: it
// should serve GetSnapshotBlock at least twice as fast as one core hashes
// blocks with SHA-256. Compare, in one run:
//
//	go test ./providers/aws/awssim -run '^$' -bench 'SHA256Block|GetSnapshotBlock'

// BenchmarkSHA256Block is the single-core baseline: hashing one block.
func BenchmarkSHA256Block(b *testing.B) {
	block := make([]byte, BlockSize)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range block {
		block[i] = byte(rng.Uint32())
	}
	b.SetBytes(BlockSize)
	for b.Loop() {
		sha256.Sum256(block)
	}
	reportBlockRate(b)
}

func reportBlockRate(b *testing.B) {
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/secs, "blocks/s")
	b.ReportMetric(float64(b.N)*BlockSize/(1<<20)/secs, "MiB/s")
}

// benchSnapshot starts a simulator whose snapshot has 64 written blocks,
// with no request quota and no added latency, and returns it with the
// snapshot's first block.
func benchSnapshot(b *testing.B) (*testServer, string, ebstypes.Block) {
	sc := fixture(b)
	blocks := make([]int32, 64)
	for i := range blocks {
		blocks[i] = int32(i)
	}
	sc.Accounts[0].Volumes[0].Synthetic.Blocks = blocks
	sc.GetSnapshotBlockPerSecond = -1
	ts := startServer(b, sc, nil)
	id := aws.ToString(must[*ec2.CreateSnapshotOutput](b)(ts.ec2(b, responder, region).CreateSnapshot(b.Context(), &ec2.CreateSnapshotInput{VolumeId: aws.String(rootVolume)})).SnapshotId)
	list := must[*ebs.ListSnapshotBlocksOutput](b)(ts.ebs(b, responder).ListSnapshotBlocks(b.Context(), &ebs.ListSnapshotBlocksInput{SnapshotId: aws.String(id)}))
	return ts, id, list.Blocks[0]
}

// BenchmarkGetSnapshotBlock measures the simulator's own cost of serving a
// block: a signed GetSnapshotBlock request through ServeHTTP (signature
// check, lookup, quota, read, response), on one goroutine.
func BenchmarkGetSnapshotBlock(b *testing.B) {
	ts, id, block := benchSnapshot(b)
	req, err := http.NewRequest(http.MethodGet, ts.url+"/snapshots/"+id+"/blocks/0?blockToken="+aws.ToString(block.BlockToken), nil)
	if err != nil {
		b.Fatal(err)
	}
	emptyHash := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	err = v4.NewSigner().SignHTTP(b.Context(), aws.Credentials{AccessKeyID: responder.id, SecretAccessKey: responder.secret},
		req, emptyHash, "ebs", region, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	w := discardWriter{header: http.Header{}}
	b.SetBytes(BlockSize)
	for b.Loop() {
		req.Body = http.NoBody
		ts.ServeHTTP(w, req)
	}
	reportBlockRate(b)
	if w.header.Get("x-amz-Checksum") == "" {
		b.Fatal("no block was served")
	}
}

// BenchmarkGetSnapshotBlockSDK measures the whole path an acquisition sees:
// the real SDK client over loopback HTTP, requests in parallel. Client and
// server share the machine's cores.
func BenchmarkGetSnapshotBlockSDK(b *testing.B) {
	ts, id, block := benchSnapshot(b)
	client := ts.ebs(b, responder)
	b.SetBytes(BlockSize)
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			out, err := client.GetSnapshotBlock(b.Context(), &ebs.GetSnapshotBlockInput{
				SnapshotId: aws.String(id), BlockIndex: block.BlockIndex, BlockToken: block.BlockToken,
			})
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, out.BlockData)
			out.BlockData.Close()
		}
	})
	reportBlockRate(b)
}
