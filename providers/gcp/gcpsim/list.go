package gcpsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"sort"
	"strconv"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// defaultMaxResults is both the default and the largest page: list methods
// take maxResults 0 to 500, default 500.
// https://cloud.google.com/compute/docs/reference/rest/v1/snapshots/list (maxResults)
const defaultMaxResults = 500

type pageResult struct {
	items []proto.Message
	next  *string
}

// page filters, orders and pages a list call's items, reading filter,
// orderBy, maxResults and pageToken from the query.
func (c *call) page(items []proto.Message) (pageResult, *apiError) {
	q := c.r.URL.Query()
	filterText := q.Get("filter")
	f, err := parseFilter(filterText)
	if err != nil {
		return pageResult{}, invalidField("filter", filterText, "Invalid list filter expression: "+err.Error()+".")
	}
	max := defaultMaxResults
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > defaultMaxResults {
			return pageResult{}, invalidField("maxResults", v, "Must be less than or equal to 500")
		}
		if n > 0 {
			max = n
		}
	}
	orderBy := q.Get("orderBy")
	type entry struct {
		msg  proto.Message
		name string
		time string
	}
	var kept []entry
	for _, m := range items {
		doc := protoDoc(m)
		if !f.match(doc) {
			continue
		}
		name, _ := doc["name"].(string)
		created, _ := doc["creationTimestamp"].(string)
		kept = append(kept, entry{m, name, created})
	}
	switch orderBy {
	case "", "name":
		sort.SliceStable(kept, func(i, j int) bool { return kept[i].name < kept[j].name })
	case "creationTimestamp desc":
		sort.SliceStable(kept, func(i, j int) bool { return kept[i].time > kept[j].time })
	default:
		return pageResult{}, invalidField("orderBy", orderBy, "Only 'name' and 'creationTimestamp desc' are supported.")
	}
	start := 0
	scope := c.r.URL.Path + "\x00" + filterText + "\x00" + orderBy
	if tok := q.Get("pageToken"); tok != "" {
		offset, ok := c.s.openPageToken(tok, scope)
		if !ok {
			return pageResult{}, invalidField("pageToken", tok, "The page token is not valid for this request.")
		}
		start = min(offset, len(kept))
	}
	end := min(start+max, len(kept))
	out := pageResult{}
	for _, e := range kept[start:end] {
		out.items = append(out.items, e.msg)
	}
	if end < len(kept) {
		out.next = proto.String(c.s.pageToken(end, scope))
	}
	return out, nil
}

// protoDoc is a message as the JSON document the API returns, for filters.
func protoDoc(m proto.Message) map[string]any {
	b, _ := protojson.Marshal(m)
	var doc map[string]any
	json.Unmarshal(b, &doc)
	return doc
}

// pageToken is an opaque, signed offset bound to the request it continues.
func (s *Server) pageToken(offset int, scope string) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(offset))
	mac := hmac.New(sha256.New, s.tokenKey)
	mac.Write([]byte("page\x00" + scope + "\x00"))
	mac.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(append(b[:], mac.Sum(nil)[:16]...))
}

func (s *Server) openPageToken(tok, scope string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 24 {
		return 0, false
	}
	offset := int(binary.BigEndian.Uint64(raw[:8]))
	if !hmac.Equal([]byte(s.pageToken(offset, scope)), []byte(tok)) {
		return 0, false
	}
	return offset, true
}
