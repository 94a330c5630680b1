package ebsblocks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ebs/types"
)

// maxTokenRefreshes bounds how often one block's token is renewed: a token
// refused right after a re-listing means something else is wrong.
const maxTokenRefreshes = 3

// fetcher reads single blocks, verified.
type fetcher struct {
	c      Client
	o      *Options
	vol    Volume
	tokens *lister
	bufs   *bufferPool
	stats  *readStats
}

// fetch reads one listed block into a pooled buffer and verifies it,
// retrying transient failures and mismatches, and renewing a refused token.
// A mismatch on every attempt ends in a *ChecksumError.
func (f *fetcher) fetch(ctx context.Context, ref blockRef) ([]byte, [32]byte, error) {
	buf := f.bufs.get()
	fail := func(err error) ([]byte, [32]byte, error) {
		f.bufs.put(buf)
		return nil, [32]byte{}, err
	}
	token, refreshes := ref.token, 0
	for attempt := 1; ; attempt++ {
		if err := f.o.Limiter.Wait(ctx); err != nil {
			return fail(waitError(ctx, err))
		}
		data, sum, err := f.get(ctx, ref.index, token, buf)
		f.o.Limiter.Done(err != nil && isThrottle(err))
		if err == nil {
			return data, sum, nil
		}
		if ctx.Err() != nil {
			return fail(context.Cause(ctx))
		}
		if isStaleBlockToken(err) && refreshes < maxTokenRefreshes {
			refreshes++
			if token, err = f.tokens.refresh(ctx, ref.index); err != nil {
				return fail(err)
			}
			attempt-- // a renewed token is not a failed attempt
			continue
		}
		var mismatch *ChecksumError
		switch {
		case errors.As(err, &mismatch):
			mismatch.Attempts = attempt
			if attempt < f.o.MaxAttempts {
				f.stats.retried(ref.index)
			}
			f.o.Logger.LogAttrs(ctx, slog.LevelWarn, "block failed verification", slog.String("resource", f.vol.SnapshotID),
				slog.Int64("block", ref.index), slog.Int("attempt", attempt), slog.Any("error", err))
		case isTransient(err):
			f.o.Logger.LogAttrs(ctx, slog.LevelDebug, "retrying GetSnapshotBlock", slog.String("resource", f.vol.SnapshotID),
				slog.Int64("block", ref.index), slog.Int("attempt", attempt), slog.Bool("throttled", isThrottle(err)), slog.Any("error", err))
		default:
			return fail(fmt.Errorf("ebsblocks: reading block %d of %s: %w", ref.index, f.vol.SnapshotID, err))
		}
		if attempt >= f.o.MaxAttempts {
			if mismatch != nil {
				return fail(mismatch)
			}
			return fail(fmt.Errorf("ebsblocks: reading block %d of %s: gave up after %d attempts: %w", ref.index, f.vol.SnapshotID, attempt, err))
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return fail(err)
		}
	}
}

// get makes one GetSnapshotBlock request and verifies the answer. A
// verification failure is a *ChecksumError.
func (f *fetcher) get(ctx context.Context, index int64, token string, buf []byte) ([]byte, [32]byte, error) {
	type answer struct {
		data []byte
		out  *ebs.GetSnapshotBlockOutput
	}
	a, err := withTimeout(ctx, f.o.RequestTimeout, func(ctx context.Context) (answer, error) {
		out, err := f.c.GetSnapshotBlock(ctx, &ebs.GetSnapshotBlockInput{
			SnapshotId: aws.String(f.vol.SnapshotID), BlockIndex: aws.Int32(int32(index)), BlockToken: aws.String(token),
		}, singleAttempt)
		if err != nil {
			return answer{}, err
		}
		defer out.BlockData.Close()
		data, err := readBody(out.BlockData, buf)
		return answer{data, out}, err
	})
	if err != nil {
		return nil, [32]byte{}, err
	}
	sum := sha256.Sum256(a.data)
	if err := f.verify(index, a.out, a.data, sum); err != nil {
		return nil, [32]byte{}, err
	}
	return a.data, sum, nil
}

// readBody reads a block's body into buf. A body longer than buf is read one
// byte past it, enough for verification to see the length is wrong.
func readBody(body io.Reader, buf []byte) ([]byte, error) {
	n, err := io.ReadFull(body, buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return buf[:n], nil // short: verification reports the length
	case err != nil:
		return nil, err
	}
	var extra [1]byte
	if m, _ := body.Read(extra[:]); m > 0 {
		return append(buf[:n:n], extra[0]), nil
	}
	return buf[:n], nil
}

// verify checks a block against x-amz-Checksum-Algorithm, x-amz-Checksum and
// x-amz-Data-Length, and against the length the volume gives the block.
func (f *fetcher) verify(index int64, out *ebs.GetSnapshotBlockOutput, data []byte, sum [32]byte) error {
	e := &ChecksumError{
		SnapshotID: f.vol.SnapshotID, BlockIndex: index,
		Algorithm: string(out.ChecksumAlgorithm), Checksum: aws.ToString(out.Checksum),
		Computed:   base64.StdEncoding.EncodeToString(sum[:]),
		DataLength: -1, WantLength: f.vol.blockLength(index), Received: int64(len(data)),
	}
	if out.DataLength != nil {
		e.DataLength = int64(*out.DataLength)
	}
	want, decodeErr := base64.StdEncoding.DecodeString(e.Checksum)
	if out.ChecksumAlgorithm != types.ChecksumAlgorithmChecksumAlgorithmSha256 ||
		e.DataLength != e.WantLength || e.Received != e.WantLength ||
		decodeErr != nil || !bytes.Equal(want, sum[:]) {
		return e
	}
	return nil
}
