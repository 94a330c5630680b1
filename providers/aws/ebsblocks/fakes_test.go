package ebsblocks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ebs"
	"github.com/aws/aws-sdk-go-v2/service/ebs/types"
)

// spyClient wraps a Client: it records calls and lets a test change
// requests and answers.
type spyClient struct {
	inner Client

	// pageSize, when set, replaces MaxResults, so that a small volume spans
	// many pages.
	pageSize int32
	// throttleLists answers that many ListSnapshotBlocks calls, the first
	// ones, with RequestThrottledException.
	throttleLists int
	// beforeGet may fail a GetSnapshotBlock before it is sent.
	beforeGet func(ctx context.Context, index int64) error
	// afterGet may change an answer.
	afterGet func(index int64, out *ebs.GetSnapshotBlockOutput)

	mu         sync.Mutex
	lists      []listCall
	gets       map[int64]int // GetSnapshotBlock calls by block
	getErrors  []error
	firstStart []int64 // blocks in the order their first request started
}

type listCall struct {
	start     int64 // StartingBlockIndex; -1 when a NextToken was given
	withToken bool
}

func spy(inner Client) *spyClient { return &spyClient{inner: inner, gets: map[int64]int{}} }

func (s *spyClient) ListSnapshotBlocks(ctx context.Context, in *ebs.ListSnapshotBlocksInput, optFns ...func(*ebs.Options)) (*ebs.ListSnapshotBlocksOutput, error) {
	call := listCall{start: -1, withToken: in.NextToken != nil}
	if in.StartingBlockIndex != nil && in.NextToken == nil { // ignored with a NextToken
		call.start = int64(*in.StartingBlockIndex)
	}
	s.mu.Lock()
	s.lists = append(s.lists, call)
	throttle := len(s.lists) <= s.throttleLists
	s.mu.Unlock()
	if throttle {
		return nil, &types.RequestThrottledException{Message: aws.String("Rate exceeded"), Reason: types.RequestThrottledExceptionReasonAccountThrottled}
	}
	if s.pageSize != 0 {
		copied := *in
		copied.MaxResults = aws.Int32(s.pageSize)
		in = &copied
	}
	return s.inner.ListSnapshotBlocks(ctx, in, optFns...)
}

func (s *spyClient) GetSnapshotBlock(ctx context.Context, in *ebs.GetSnapshotBlockInput, optFns ...func(*ebs.Options)) (*ebs.GetSnapshotBlockOutput, error) {
	index := int64(aws.ToInt32(in.BlockIndex))
	s.mu.Lock()
	if s.gets[index] == 0 {
		s.firstStart = append(s.firstStart, index)
	}
	s.gets[index]++
	s.mu.Unlock()
	var out *ebs.GetSnapshotBlockOutput
	var err error
	if s.beforeGet != nil {
		err = s.beforeGet(ctx, index)
	}
	if err == nil {
		out, err = s.inner.GetSnapshotBlock(ctx, in, optFns...)
	}
	if err != nil {
		s.mu.Lock()
		s.getErrors = append(s.getErrors, err)
		s.mu.Unlock()
		return nil, err
	}
	if s.afterGet != nil {
		s.afterGet(index, out)
	}
	return out, nil
}

func (s *spyClient) getCalls() (total int, blocks int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.gets {
		total += n
	}
	return total, len(s.gets)
}

func (s *spyClient) listCalls() []listCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lists)
}

func (s *spyClient) errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.getErrors)
}

// started is how many distinct blocks have been requested so far.
func (s *spyClient) started() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.firstStart)
}

// staleTokens wraps a Client whose tokens it can make stale at will: every
// block token and NextToken carries the generation it was issued in, and
// Expire makes every token issued so far answer as AWS documents for expired
// tokens (ValidationException INVALID_BLOCK_TOKEN or INVALID_PAGE_TOKEN).
type staleTokens struct {
	inner Client
	// pagesOnly refuses every NextToken, as if each had waited an hour, and
	// leaves block tokens alone.
	pagesOnly bool

	mu         sync.Mutex
	generation int
	validFrom  int
	refused    int
}

func (s *staleTokens) Expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.generation++
	s.validFrom = s.generation
}

func (s *staleTokens) issue(token string) string {
	return fmt.Sprintf("g%d/%s", s.generation, token)
}

// redeem strips the generation, or refuses a stale token.
func (s *staleTokens) redeem(token string) (string, bool) {
	gen, inner, _ := strings.Cut(strings.TrimPrefix(token, "g"), "/")
	n, _ := strconv.Atoi(gen)
	if n < s.validFrom {
		s.refused++
		return "", false
	}
	return inner, true
}

func (s *staleTokens) ListSnapshotBlocks(ctx context.Context, in *ebs.ListSnapshotBlocksInput, optFns ...func(*ebs.Options)) (*ebs.ListSnapshotBlocksOutput, error) {
	copied := *in
	if in.NextToken != nil {
		s.mu.Lock()
		token, ok := s.redeem(*in.NextToken)
		if s.pagesOnly {
			s.refused++
			ok = false
		}
		s.mu.Unlock()
		if !ok {
			return nil, &types.ValidationException{Message: aws.String("The pagination token is invalid or has expired."), Reason: types.ValidationExceptionReasonInvalidPageToken}
		}
		copied.NextToken = aws.String(token)
	}
	out, err := s.inner.ListSnapshotBlocks(ctx, &copied, optFns...)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range out.Blocks {
		out.Blocks[i].BlockToken = aws.String(s.issue(aws.ToString(out.Blocks[i].BlockToken)))
	}
	if out.NextToken != nil {
		out.NextToken = aws.String(s.issue(*out.NextToken))
	}
	return out, nil
}

func (s *staleTokens) GetSnapshotBlock(ctx context.Context, in *ebs.GetSnapshotBlockInput, optFns ...func(*ebs.Options)) (*ebs.GetSnapshotBlockOutput, error) {
	s.mu.Lock()
	token, ok := s.redeem(aws.ToString(in.BlockToken))
	s.mu.Unlock()
	if !ok {
		return nil, &types.ValidationException{Message: aws.String("The block token has expired."), Reason: types.ValidationExceptionReasonInvalidBlockToken}
	}
	copied := *in
	copied.BlockToken = aws.String(token)
	return s.inner.GetSnapshotBlock(ctx, &copied, optFns...)
}

// memClient serves a snapshot held in memory, with any block size: the
// simulator, like EBS, only knows 512 KiB blocks and whole-GiB volumes.
type memClient struct {
	sizeGiB   int64
	blockSize int32
	blocks    map[int64][]byte
}

func (m *memClient) indexes() []int64 {
	var out []int64
	for i := range m.blocks {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

func (m *memClient) ListSnapshotBlocks(_ context.Context, in *ebs.ListSnapshotBlocksInput, _ ...func(*ebs.Options)) (*ebs.ListSnapshotBlocksOutput, error) {
	start := int64(aws.ToInt32(in.StartingBlockIndex))
	if in.NextToken != nil {
		start, _ = strconv.ParseInt(*in.NextToken, 10, 64)
	}
	out := &ebs.ListSnapshotBlocksOutput{VolumeSize: aws.Int64(m.sizeGiB), BlockSize: aws.Int32(m.blockSize)}
	for _, i := range m.indexes() {
		if i < start {
			continue
		}
		if len(out.Blocks) == int(aws.ToInt32(in.MaxResults)) {
			out.NextToken = aws.String(strconv.FormatInt(i, 10))
			break
		}
		out.Blocks = append(out.Blocks, types.Block{BlockIndex: aws.Int32(int32(i)), BlockToken: aws.String("t" + strconv.FormatInt(i, 10))})
	}
	return out, nil
}

func (m *memClient) GetSnapshotBlock(_ context.Context, in *ebs.GetSnapshotBlockInput, _ ...func(*ebs.Options)) (*ebs.GetSnapshotBlockOutput, error) {
	data, ok := m.blocks[int64(aws.ToInt32(in.BlockIndex))]
	if !ok {
		return nil, &types.ValidationException{Message: aws.String("no data"), Reason: types.ValidationExceptionReasonInvalidBlock}
	}
	sum := sha256.Sum256(data)
	return &ebs.GetSnapshotBlockOutput{
		BlockData: io.NopCloser(bytes.NewReader(data)), DataLength: aws.Int32(int32(len(data))),
		Checksum: aws.String(base64.StdEncoding.EncodeToString(sum[:])), ChecksumAlgorithm: types.ChecksumAlgorithmChecksumAlgorithmSha256,
	}, nil
}
