package ebsblocks_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ebs"

	"github.com/acquire-forensics/acquire/providers/aws/ebsblocks"
	"github.com/acquire-forensics/acquire/providers/evidence"
)

// Digest a forensic copy: a Reader is a block source the engine's digest
// reads. One limiter is shared by every read in the account, since the
// GetSnapshotBlock quota holds per account as well as per snapshot. The HTTP
// client should keep an idle connection per worker (the SDK's default keeps 10).
func ExampleOpen() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err != nil {
		log.Fatal(err)
	}
	account := ebsblocks.NewBlockLimiter()
	r, err := ebsblocks.Open(ctx, ebs.NewFromConfig(cfg), "snap-0123456789abcdef0", &ebsblocks.Options{Limiter: account})
	if err != nil {
		log.Fatal(err)
	}
	res, err := evidence.Compute(ctx, r, nil)
	if err != nil {
		log.Fatal(err) // a *ebsblocks.ChecksumError is an integrity failure
	}
	fmt.Println(res.ImageSHA256, res.Method)
}

// Write a snapshot to a sparse raw image: unlisted blocks stay holes.
func ExampleReader_Read() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	r, err := ebsblocks.Open(ctx, ebs.NewFromConfig(cfg), "snap-0123456789abcdef0", nil)
	if err != nil {
		log.Fatal(err)
	}
	out, err := os.Create("image.raw")
	if err != nil {
		log.Fatal(err)
	}
	defer out.Close()
	vol := r.Volume()
	if err := out.Truncate(vol.Size); err != nil {
		log.Fatal(err)
	}
	err = r.Read(ctx, 0, func(b ebsblocks.Block) error {
		_, err := out.WriteAt(b.Data, b.Index*vol.BlockSize)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
}
