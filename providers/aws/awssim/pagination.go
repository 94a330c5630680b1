package awssim

import (
	"strconv"
	"strings"
)

// pageRequest is the MaxResults / NextToken pair of a paginated call.
type pageRequest struct {
	maxResults int // 0: everything
	nextToken  string
}

// ec2Page reads MaxResults and NextToken and enforces the action's
// documented range for MaxResults, and that it is not combined with an
// explicit ID list.
func ec2Page(q queryParams, minResults, maxResults int, idsGiven bool) (pageRequest, *apiError) {
	n, ok := q.integer("MaxResults", 0)
	if !ok {
		return pageRequest{}, errInvalidParameterValue("MaxResults", q.get("MaxResults"))
	}
	if q.has("MaxResults") {
		if idsGiven {
			return pageRequest{}, errInvalidParameterCombination("The parameter MaxResults cannot be used with the parameter IDs")
		}
		if n < minResults || n > maxResults {
			return pageRequest{}, badRequest("InvalidParameterValue",
				"Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and %d.", n, minResults, maxResults)
		}
	}
	return pageRequest{maxResults: n, nextToken: q.get("NextToken")}, nil
}

// paginate cuts one page out of items. Tokens carry the offset and are
// signed, so that a forged or altered token is refused.
func paginate[T any](s *Server, scope string, items []T, p pageRequest, badToken func() *apiError) ([]T, string, *apiError) {
	start := 0
	if p.nextToken != "" {
		offset, ok := s.parsePageToken(scope, p.nextToken)
		if !ok || offset > len(items) {
			return nil, "", badToken()
		}
		start = offset
	}
	end := len(items)
	if p.maxResults > 0 && start+p.maxResults < end {
		end = start + p.maxResults
	}
	next := ""
	if end < len(items) {
		next = s.pageToken(scope, end)
	}
	return items[start:end], next, nil
}

func (s *Server) pageToken(scope string, offset int) string {
	payload := strconv.Itoa(offset)
	return payload + "-" + s.sign(scope+"|"+payload)
}

func (s *Server) parsePageToken(scope, token string) (int, bool) {
	payload, sig, ok := strings.Cut(token, "-")
	if !ok || sig != s.sign(scope+"|"+payload) {
		return 0, false
	}
	n, err := strconv.Atoi(payload)
	return n, err == nil && n >= 0
}

func errInvalidPaginationToken() *apiError {
	return badRequest("InvalidPaginationToken", "The pagination token is invalid or has expired.")
}
