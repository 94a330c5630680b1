package ebsblocks

import (
	"log/slog"
	"time"

	"github.com/acquire-forensics/acquire/providers/pace"
)

const (
	// DefaultConcurrency is how many GetSnapshotBlock requests are in flight.
	// At about 100 ms a request, 64 are enough for the per-snapshot quota.
	DefaultConcurrency = 64
	// DefaultBlocksPerSecond is the default GetSnapshotBlock rate: 90% of the
	// documented 1000 requests per second per snapshot (and per account).
	DefaultBlocksPerSecond = 900
	// DefaultListsPerSecond is the default ListSnapshotBlocks rate: 90% of the
	// documented 50 requests per second per account.
	DefaultListsPerSecond = 45
	// DefaultMaxAttempts is how many times a block or a page is requested
	// before a transient failure or a checksum mismatch is final.
	DefaultMaxAttempts = 10
	// DefaultRequestTimeout bounds one request, body included: a block
	// normally takes about 100 ms, and a stalled connection must not hang
	// the read.
	DefaultRequestTimeout = time.Minute
)

// Options tune reading. The zero value, or nil, uses the defaults.
type Options struct {
	// Concurrency is how many blocks are requested at once.
	Concurrency int
	// Limiter paces GetSnapshotBlock requests, retries included, and slows
	// down when most are throttled. Share one limiter between all reads in an
	// account: the quota holds per snapshot and per account. Default:
	// NewBlockLimiter for this read.
	Limiter *pace.Limiter
	// ListLimiter paces ListSnapshotBlocks requests (quota: 50 per second per
	// account). Default: NewListLimiter for this read.
	ListLimiter *pace.Limiter
	// MaxAttempts bounds the requests for one block or one page.
	MaxAttempts int
	// RequestTimeout bounds one request, body included.
	RequestTimeout time.Duration
	// Progress, when set, is called after each block reaches the caller, on
	// the goroutine that called Read or Digest; it should return quickly.
	Progress func(Progress)
	// Logger receives retries and re-listings; nil logs nothing.
	Logger *slog.Logger
}

// Progress is how far a read has come.
type Progress struct {
	SnapshotID string
	// Offset is the image offset up to which everything has been delivered,
	// zeros of unlisted blocks included; Size is the image size.
	Offset, Size int64
	// Blocks and BytesRead count the listed blocks read and verified so far.
	Blocks, BytesRead int64
}

// NewBlockLimiter paces GetSnapshotBlock at DefaultBlocksPerSecond, halving
// while most requests are throttled.
func NewBlockLimiter() *pace.Limiter {
	return pace.New(pace.Settings{Initial: DefaultBlocksPerSecond, Min: 10, Max: DefaultBlocksPerSecond})
}

// NewListLimiter paces ListSnapshotBlocks at DefaultListsPerSecond likewise.
func NewListLimiter() *pace.Limiter {
	return pace.New(pace.Settings{Initial: DefaultListsPerSecond, Min: 1, Max: DefaultListsPerSecond})
}

// withDefaults returns a copy of o (which may be nil) with every zero field
// set to its default.
func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.Concurrency <= 0 {
		out.Concurrency = DefaultConcurrency
	}
	if out.Limiter == nil {
		out.Limiter = NewBlockLimiter()
	}
	if out.ListLimiter == nil {
		out.ListLimiter = NewListLimiter()
	}
	if out.MaxAttempts <= 0 {
		out.MaxAttempts = DefaultMaxAttempts
	}
	if out.RequestTimeout <= 0 {
		out.RequestTimeout = DefaultRequestTimeout
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	return out
}

// window is how many blocks may be requested ahead of the one the caller is
// waiting for: the requests in flight plus a little slack, so that one slow
// block does not idle every worker at once.
func (o *Options) window() int { return o.Concurrency + max(4, o.Concurrency/8) }
