package ebsblocks

import (
	"bytes"
	"context"
	"errors"
	"github.com/acquire-forensics/acquire/providers/pace"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ebs/types"

	"github.com/acquire-forensics/acquire/providers/aws/awssim"
)

func withFaults(f awssim.Faults) simSetup {
	return simSetup{scenario: func(sc *awssim.Scenario) { sc.Faults = f }}
}

// An occasional wrong x-amz-Checksum is fetched again and the digests come
// out right.
func TestChecksumMismatchRecovered(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, withFaults(awssim.Faults{Seed: 3, WrongChecksumRate: 0.2}))
	res, err := digest(t.Context(), snap.client, snap.snapshotID, &Options{Concurrency: 16})
	if err != nil {
		t.Fatal(err)
	}
	if res.ImageSHA256 != img.imageSHA256 || res.BlockListSHA256 != img.blockListSHA {
		t.Errorf("digests differ after checksum faults")
	}
	n := snap.calls("GetSnapshotBlock")
	if n <= len(img.listed) {
		t.Errorf("%d GetSnapshotBlock calls for %d blocks: no mismatch was retried", n, len(img.listed))
	}
	// Every call beyond one per block was a mismatch fetched again, and the digest says so.
	if res.IntegrityRetries != int64(n-len(img.listed)) || len(res.RetriedBlocks) == 0 {
		t.Errorf("the digest reports %d integrity retries (blocks %v); %d blocks took %d calls", res.IntegrityRetries, res.RetriedBlocks, len(img.listed), n)
	}
}

// A block whose checksum never matches fails the read loudly, naming the
// snapshot, the block and both checksums, after MaxAttempts tries; the read
// stops instead of going through the rest of the volume.
func TestChecksumMismatchPersistent(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, withFaults(awssim.Faults{Seed: 3, WrongChecksumRate: 1}))
	_, err := digest(t.Context(), snap.client, snap.snapshotID, &Options{Concurrency: 4, MaxAttempts: 3})
	var mismatch *ChecksumError
	if !errors.As(err, &mismatch) {
		t.Fatalf("want a *ChecksumError, got %v", err)
	}
	if mismatch.SnapshotID != snap.snapshotID || mismatch.Attempts != 3 || mismatch.Checksum == mismatch.Computed ||
		mismatch.Checksum == "" || mismatch.Received != testBlockSize {
		t.Errorf("mismatch %+v", mismatch)
	}
	for _, s := range []string{snap.snapshotID, "block", mismatch.Checksum, mismatch.Computed} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not name %q: %v", s, err)
		}
	}
	if n := snap.calls("GetSnapshotBlock"); n >= len(img.listed) {
		t.Errorf("%d GetSnapshotBlock calls: the read went on after the failure", n)
	}
	requireNoWorkers(t)
}

// x-amz-Data-Length and the algorithm are checked as well as the checksum.
func TestDataLengthAndAlgorithmChecked(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, simSetup{})
	bad := img.listed[3]
	for name, tamper := range map[string]func(*ebs.GetSnapshotBlockOutput){
		"data length": func(out *ebs.GetSnapshotBlockOutput) { out.DataLength = aws.Int32(4096) },
		"no length":   func(out *ebs.GetSnapshotBlockOutput) { out.DataLength = nil },
		"algorithm":   func(out *ebs.GetSnapshotBlockOutput) { out.ChecksumAlgorithm = "MD5" },
		"no checksum": func(out *ebs.GetSnapshotBlockOutput) { out.Checksum = nil },
	} {
		t.Run(name, func(t *testing.T) {
			c := spy(snap.client)
			c.afterGet = func(index int64, out *ebs.GetSnapshotBlockOutput) {
				if index == bad {
					tamper(out)
				}
			}
			err := readAll(t.Context(), c, snap.snapshotID, &Options{MaxAttempts: 2}, func(Block) error { return nil })
			var mismatch *ChecksumError
			if !errors.As(err, &mismatch) || mismatch.BlockIndex != bad {
				t.Fatalf("want a *ChecksumError for block %d, got %v", bad, err)
			}
			t.Log(err)
		})
	}
}

// Throttling and server errors on both calls, with latency, still give the
// right digests, and the retries are logged.
func TestThrottlingServerErrorsAndLatency(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, withFaults(awssim.Faults{
		Seed: 5, ThrottleDescribeRate: 0.2, ServerErrorRate: 0.05,
		Latency: awssim.Duration(2 * time.Millisecond), BlockLatency: awssim.Duration(10 * time.Millisecond),
	}))
	c := spy(snap.client)
	c.pageSize = 100
	c.throttleLists = 2
	var log bytes.Buffer // the handler serializes its writes
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	res, err := digest(t.Context(), c, snap.snapshotID, &Options{Concurrency: 32, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if res.ImageSHA256 != img.imageSHA256 || res.BlockListSHA256 != img.blockListSHA {
		t.Errorf("digests differ under faults")
	}
	for _, want := range []string{"retrying GetSnapshotBlock", "retrying ListSnapshotBlocks", "throttled=true"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log has no %q", want)
		}
	}
	var throttled, internal int
	for _, err := range c.errors() {
		var te *types.RequestThrottledException
		var ie *types.InternalServerException
		switch {
		case errors.As(err, &te):
			throttled++
		case errors.As(err, &ie):
			internal++
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if throttled == 0 || internal == 0 {
		t.Errorf("faults not exercised: %d throttled, %d server errors", throttled, internal)
	}
}

// The client-side limiter keeps GetSnapshotBlock under the per-snapshot
// quota, retries included: the simulator throttles nothing. (Unlimited, the
// same read outruns the simulator's burst of 200 and is throttled about a
// hundred times.)
func TestLimiterKeepsUnderQuota(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, simSetup{scenario: func(sc *awssim.Scenario) { sc.GetSnapshotBlockPerSecond = 200 }})
	c := spy(snap.client)
	blocks := 0
	err := readAll(t.Context(), c, snap.snapshotID, &Options{Limiter: pace.New(pace.Settings{Initial: 180, Max: 180})}, func(Block) error { blocks++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if blocks != len(img.listed) {
		t.Errorf("%d blocks read, want %d", blocks, len(img.listed))
	}
	if errs := c.errors(); len(errs) > 0 {
		t.Errorf("%d errors under the limiter, first: %v", len(errs), errs[0])
	}
}

// The SDK's own retries are off: this package's attempts are the only ones.
// (The client keeps the SDK default of three attempts.)
func TestNoNestedSDKRetries(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, withFaults(awssim.Faults{ServerErrorRate: 1, Actions: []string{"ebs:GetSnapshotBlock"}}))
	_, err := digest(t.Context(), snap.client, snap.snapshotID, &Options{Concurrency: 1, MaxAttempts: 2})
	var internal *types.InternalServerException
	if !errors.As(err, &internal) || !strings.Contains(err.Error(), "gave up after 2 attempts") {
		t.Fatalf("want InternalServerException after 2 attempts, got %v", err)
	}
	if n := snap.calls("GetSnapshotBlock"); n != 2 {
		t.Errorf("%d GetSnapshotBlock requests, want 2", n)
	}
}

// An error that is not transient stops the read at once: no retry, the
// requests in flight canceled, the error wrapped once with the block and
// snapshot, the service's error still reachable.
func TestPermanentErrorStops(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, simSetup{})
	c := spy(snap.client)
	bad := img.listed[20]
	c.beforeGet = func(ctx context.Context, index int64) error {
		if index == bad {
			return &types.AccessDeniedException{Message: aws.String("not authorized to perform: ebs:GetSnapshotBlock"), Reason: types.AccessDeniedExceptionReasonUnauthorizedAccount}
		}
		return nil
	}
	err := readAll(t.Context(), c, snap.snapshotID, &Options{Concurrency: 4}, func(Block) error { return nil })
	var denied *types.AccessDeniedException
	if !errors.As(err, &denied) {
		t.Fatalf("want AccessDeniedException, got %v", err)
	}
	if want := "ebsblocks: reading block " + strconv.FormatInt(bad, 10) + " of " + snap.snapshotID + ": "; !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), "ebsblocks:") != 1 {
		t.Errorf("error %q, want it to start %q and be wrapped once", err, want)
	}
	c.mu.Lock()
	tries := c.gets[bad]
	c.mu.Unlock()
	if tries != 1 {
		t.Errorf("block %d requested %d times; a permanent error is not retried", bad, tries)
	}
	if _, blocks := c.getCalls(); blocks >= len(img.listed) {
		t.Errorf("%d blocks requested: the read did not stop", blocks)
	}
	requireNoWorkers(t)
}

// An error from visit stops the read and comes back wrapped.
func TestVisitErrorStops(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, simSetup{})
	errFull := errors.New("disk full")
	err := readAll(t.Context(), snap.client, snap.snapshotID, &Options{Concurrency: 4}, func(b Block) error {
		if b.Index == img.listed[5] {
			return errFull
		}
		return nil
	})
	if !errors.Is(err, errFull) || !strings.Contains(err.Error(), "block "+strconv.FormatInt(img.listed[5], 10)) {
		t.Fatalf("want the visit error for block %d, got %v", img.listed[5], err)
	}
	requireNoWorkers(t)
}

// Opening a snapshot that does not exist fails at once, with the service's
// error.
func TestOpenUnknownSnapshot(t *testing.T) {
	img := sharedImage(t)
	snap := startSnapshot(t, img, simSetup{})
	_, err := Open(t.Context(), snap.client, "snap-0123456789abcdef0", nil)
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) || !strings.Contains(err.Error(), "snap-0123456789abcdef0") {
		t.Fatalf("want ResourceNotFoundException naming the snapshot, got %v", err)
	}
	if n := snap.calls("ListSnapshotBlocks"); n != 1 {
		t.Errorf("%d ListSnapshotBlocks calls; not found is not retried", n)
	}
}
