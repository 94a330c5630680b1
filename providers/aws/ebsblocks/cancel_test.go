package ebsblocks

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/acquire-forensics/acquire/providers/aws/awssim"
)

// Canceling from visit, mid-read, returns the context's error and leaves no
// goroutine behind.
func TestCancelFromVisit(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, simSetup{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r, err := Open(ctx, snap.client, snap.snapshotID, &Options{Concurrency: 16})
	if err != nil {
		t.Fatal(err)
	}
	visited := 0
	err = r.Read(ctx, 0, func(Block) error {
		visited++
		if visited == 20 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if visited != 20 {
		t.Errorf("visited %d blocks after the cancel at 20", visited-20)
	}
	requireNoWorkers(t)
}

// Canceling while every worker waits on a slow answer returns without
// waiting for the answers, and leaves no goroutine behind.
func TestCancelDuringRequests(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, withFaults(awssim.Faults{BlockLatency: awssim.Duration(time.Hour)}))
	c := spy(snap.client)
	const workers = 8
	var once sync.Once
	inFlight := make(chan struct{})
	c.beforeGet = func(ctx context.Context, index int64) error {
		if c.started() == workers {
			once.Do(func() { close(inFlight) })
		}
		return nil
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { <-inFlight; cancel() }()
	err := readAll(ctx, c, snap.snapshotID, &Options{Concurrency: workers}, func(Block) error {
		t.Error("a block arrived despite an hour of latency")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	requireNoWorkers(t)
}
