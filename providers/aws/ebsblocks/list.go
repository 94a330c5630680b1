package ebsblocks

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
)

// maxPageSize is the largest page ListSnapshotBlocks gives: fewer calls
// against its 50 per second account quota.
const maxPageSize = 10000

// listPage asks for one page of the listing that starts at block start,
// retrying transient failures; token, if any, continues that listing. The
// service ignores StartingBlockIndex when a NextToken is given, but it is sent
// with it all the same, as the SDK's paginator does.
func listPage(ctx context.Context, c Client, o *Options, snapshotID string, start int64, token string) (*ebs.ListSnapshotBlocksOutput, error) {
	in := &ebs.ListSnapshotBlocksInput{SnapshotId: aws.String(snapshotID), MaxResults: aws.Int32(maxPageSize), StartingBlockIndex: aws.Int32(int32(start))}
	if token != "" {
		in.NextToken = aws.String(token)
	}
	for attempt := 1; ; attempt++ {
		if err := o.ListLimiter.Wait(ctx); err != nil {
			return nil, waitError(ctx, err)
		}
		out, err := withTimeout(ctx, o.RequestTimeout, func(ctx context.Context) (*ebs.ListSnapshotBlocksOutput, error) {
			return c.ListSnapshotBlocks(ctx, in, singleAttempt)
		})
		o.ListLimiter.Done(err != nil && isThrottle(err))
		switch {
		case err == nil:
			return out, nil
		case ctx.Err() != nil:
			return nil, context.Cause(ctx)
		case !isTransient(err):
			return nil, fmt.Errorf("ebsblocks: listing blocks of %s from block %d: %w", snapshotID, start, err)
		case attempt >= o.MaxAttempts:
			return nil, fmt.Errorf("ebsblocks: listing blocks of %s from block %d: gave up after %d attempts: %w", snapshotID, start, attempt, err)
		}
		o.Logger.LogAttrs(ctx, slog.LevelDebug, "retrying ListSnapshotBlocks", slog.String("resource", snapshotID),
			slog.Int64("from", start), slog.Int("attempt", attempt), slog.Bool("throttled", isThrottle(err)), slog.Any("error", err))
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return nil, err
		}
	}
}

// waitError explains why a rate limiter did not let a request go: the
// context ended, or its deadline comes before the limiter would.
func waitError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return fmt.Errorf("ebsblocks: waiting for the request rate limit: %w", err)
}

// lister hands out listed blocks in ascending order, reading the listing page
// by page as the read advances, so that memory holds one page, not the whole
// listing. It also gives fresh tokens for blocks whose token went stale.
type lister struct {
	c   Client
	o   *Options
	vol Volume

	mu        sync.Mutex
	page      []blockRef // listed, not yet handed out
	nextToken string     // continues the listing after page
	tokenFrom int64      // StartingBlockIndex of the listing nextToken continues
	more      bool       // whether the listing goes on after page
	listed    int64      // highest index listed so far; a re-listing resumes after it
	handedOut int64      // highest index handed out so far
	fresh     map[int64]string
}

// newLister starts the listing at block from. A first page already listed
// from block 0 may be given to save a request.
func newLister(c Client, o *Options, vol Volume, from int64, first *ebs.ListSnapshotBlocksOutput) (*lister, error) {
	l := &lister{c: c, o: o, vol: vol, more: true, listed: from - 1, handedOut: from - 1, fresh: map[int64]string{}}
	if first != nil && from == 0 {
		if err := l.take(first, 0); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// take makes a page, which continues the listing started at block from, the
// current one.
func (l *lister) take(out *ebs.ListSnapshotBlocksOutput, from int64) error {
	refs, err := l.vol.refs(out, l.listed)
	if err != nil {
		return err
	}
	l.page, l.nextToken, l.tokenFrom = refs, aws.ToString(out.NextToken), from
	l.more = l.nextToken != ""
	if len(refs) > 0 {
		l.listed = refs[len(refs)-1].index
	}
	return nil
}

// next returns the next listed block, or false at the end of the listing.
func (l *lister) next(ctx context.Context) (blockRef, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.page) == 0 {
		if !l.more {
			return blockRef{}, false, nil
		}
		from := l.listed + 1
		if l.nextToken != "" {
			from = l.tokenFrom
		}
		out, err := listPage(ctx, l.c, l.o, l.vol.SnapshotID, from, l.nextToken)
		if err != nil && l.nextToken != "" && isStalePageToken(err) {
			// NextToken lives 60 minutes; the listing resumes from the index
			// after the last block listed instead.
			from = l.listed + 1
			l.o.Logger.LogAttrs(ctx, slog.LevelInfo, "page token expired, listing again", slog.String("resource", l.vol.SnapshotID), slog.Int64("from", from))
			l.nextToken = ""
			out, err = listPage(ctx, l.c, l.o, l.vol.SnapshotID, from, "")
		}
		if err != nil {
			return blockRef{}, false, err
		}
		if err := l.take(out, from); err != nil {
			return blockRef{}, false, err
		}
	}
	ref := l.page[0]
	l.page = l.page[1:]
	l.handedOut = ref.index
	return ref, true, nil
}

// refresh returns a fresh token for block index, whose token was refused.
// Tokens listed together go stale together, so one re-listing from index
// renews every block handed out after it (kept in fresh for their workers)
// and the rest of the current page.
func (l *lister) refresh(ctx context.Context, index int64) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if token, ok := l.fresh[index]; ok {
		delete(l.fresh, index)
		return token, nil
	}
	l.o.Logger.LogAttrs(ctx, slog.LevelInfo, "block token refused, listing again", slog.String("resource", l.vol.SnapshotID), slog.Int64("from", index))
	var found string
	after, token := index-1, ""
	for {
		out, err := listPage(ctx, l.c, l.o, l.vol.SnapshotID, index, token)
		if err != nil {
			return "", err
		}
		refs, err := l.vol.refs(out, after)
		if err != nil {
			return "", err
		}
		var ahead []blockRef // not handed out yet
		for _, r := range refs {
			switch {
			case r.index == index:
				found = r.token
			case r.index <= l.handedOut:
				l.fresh[r.index] = r.token
			default:
				ahead = append(ahead, r)
			}
		}
		if len(refs) > 0 {
			after = refs[len(refs)-1].index
		}
		token = aws.ToString(out.NextToken)
		if token == "" || after > l.handedOut {
			// This page reaches past what was handed out: it replaces the
			// current page, its NextToken the current one.
			l.page, l.nextToken, l.tokenFrom, l.more = ahead, token, index, token != ""
			l.listed = max(after, l.handedOut)
			break
		}
	}
	if found == "" {
		return "", fmt.Errorf("ebsblocks: snapshot %s: block %d is no longer listed", l.vol.SnapshotID, index)
	}
	return found, nil
}
