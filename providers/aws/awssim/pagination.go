package awssim

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// pageRequest is the MaxResults / NextToken pair of a paginated call.
type pageRequest struct {
	maxResults int // 0: everything
	nextToken  string
}

// ec2Paging is one Describe action's documented MaxResults rule: the range it accepts and whether a
// larger value is answered with at most the maximum (DescribeVolumes and DescribeSnapshots document
// that) or refused.
type ec2Paging struct {
	min, max int
	capAbove bool
}

// The Describe actions' rules, from each action's API reference (MaxResults).
var (
	// "This value can be between 5 and 1000. You cannot specify this parameter and the instance IDs
	// parameter in the same call."
	// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html
	pagingDescribeInstances = ec2Paging{min: 5, max: 1000}
	// "This value can be between 5 and 500; if you specify a value larger than 500, only 500 items
	// are returned." (the AWS CLI asks for 1000 by default)
	// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVolumes.html
	pagingDescribeVolumes = ec2Paging{min: 5, max: 500, capAbove: true}
	// "This value can be between 5 and 1,000; if MaxResults is given a value larger than 1,000, only
	// 1,000 results are returned. ... You cannot specify this parameter and the snapshot IDs parameter
	// in the same request."
	// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSnapshots.html
	pagingDescribeSnapshots = ec2Paging{min: 5, max: 1000, capAbove: true}
	// Valid range 5 to 1000, as the other snapshot listings.
	// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeLockedSnapshots.html
	pagingDescribeLockedSnapshots = ec2Paging{min: 5, max: 1000}
)

// ec2Page reads MaxResults and NextToken and enforces the action's documented rule for MaxResults,
// and that it is not combined with an explicit ID list.
func ec2Page(q queryParams, rule ec2Paging, idsGiven bool) (pageRequest, *apiError) {
	n, ok := q.integer("MaxResults", 0)
	if !ok {
		return pageRequest{}, errInvalidParameterValue("MaxResults", q.get("MaxResults"))
	}
	if q.has("MaxResults") {
		if idsGiven {
			return pageRequest{}, errInvalidParameterCombination("The parameter MaxResults cannot be used with the parameter IDs")
		}
		if rule.capAbove && n > rule.max {
			n = rule.max
		}
		if n < rule.min || n > rule.max {
			return pageRequest{}, badRequest("InvalidParameterValue",
				"Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and %d.", n, rule.min, rule.max)
		}
	}
	return pageRequest{maxResults: n, nextToken: q.get("NextToken")}, nil
}

// pager says how one listing signs and checks its page tokens.
type pager struct {
	scope    string // the listing and its parameters; a token is valid only for them
	now      time.Time
	ttl      time.Duration // how long a token stays valid; 0 for ever
	badToken func() *apiError
}

// paginate cuts one page out of items. A token carries the offset and the
// time it was issued, signed, so that a forged, altered, foreign or (where
// the API documents a lifetime) expired token is refused.
func paginate[T any](s *Server, pg pager, items []T, p pageRequest) ([]T, string, *apiError) {
	start := 0
	if p.nextToken != "" {
		offset, issued, ok := s.parsePageToken(pg.scope, p.nextToken)
		if !ok || offset > len(items) || (pg.ttl > 0 && !pg.now.Before(issued.Add(pg.ttl))) {
			return nil, "", pg.badToken()
		}
		start = offset
	}
	end := len(items)
	if p.maxResults > 0 && start+p.maxResults < end {
		end = start + p.maxResults
	}
	next := ""
	if end < len(items) {
		next = s.pageToken(pg.scope, end, pg.now)
	}
	return items[start:end], next, nil
}

// paginateByKey is paginate for listings that resume by position, not by offset: the token names the
// key of the next item (EBS direct's next block index), so that a page token stands on its own and does
// not depend on the parameters of the first call (a NextToken takes precedence over StartingBlockIndex).
func paginateByKey[T any](s *Server, pg pager, items []T, key func(T) int, p pageRequest) ([]T, string, *apiError) {
	start := 0
	if p.nextToken != "" {
		from, issued, ok := s.parsePageToken(pg.scope, p.nextToken)
		if !ok || (pg.ttl > 0 && !pg.now.Before(issued.Add(pg.ttl))) {
			return nil, "", pg.badToken()
		}
		for start < len(items) && key(items[start]) < from {
			start++
		}
	}
	end := len(items)
	if p.maxResults > 0 && start+p.maxResults < end {
		end = start + p.maxResults
	}
	next := ""
	if end < len(items) {
		next = s.pageToken(pg.scope, key(items[end]), pg.now)
	}
	return items[start:end], next, nil
}

// pageToken is base64, the character set the EBS direct APIs document for tokens
// (https://docs.aws.amazon.com/ebs/latest/APIReference/API_ListSnapshotBlocks.html).
func (s *Server) pageToken(scope string, offset int, issued time.Time) string {
	payload := strconv.Itoa(offset) + "." + strconv.FormatInt(issued.Unix(), 10)
	return base64.StdEncoding.EncodeToString([]byte(payload + "-" + s.sign("page|"+scope+"|"+payload)))
}

func (s *Server) parsePageToken(scope, token string) (offset int, issued time.Time, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return 0, time.Time{}, false
	}
	payload, sig, found := strings.Cut(string(raw), "-")
	if !found || sig != s.sign("page|"+scope+"|"+payload) {
		return 0, time.Time{}, false
	}
	off, unix, found := strings.Cut(payload, ".")
	n, err1 := strconv.Atoi(off)
	t, err2 := strconv.ParseInt(unix, 10, 64)
	if !found || err1 != nil || err2 != nil || n < 0 {
		return 0, time.Time{}, false
	}
	return n, time.Unix(t, 0), true
}

func errInvalidPaginationToken() *apiError {
	return badRequest("InvalidPaginationToken", "The pagination token is invalid or has expired.")
}
