package awssim

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// queryParams reads an AWS Query (and EC2 Query) request: form-encoded,
// lists flattened as Name.1, Name.2, structures as Name.1.Member.
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Query-Requests.html
type queryParams url.Values

func parseQuery(c *call) queryParams {
	values, _ := url.ParseQuery(string(c.body))
	if values == nil {
		values = url.Values{}
	}
	for k, v := range c.r.URL.Query() {
		values[k] = append(values[k], v...)
	}
	return queryParams(values)
}

func (q queryParams) get(name string) string { return url.Values(q).Get(name) }

func (q queryParams) has(name string) bool { _, ok := q[name]; return ok }

// list returns prefix.1, prefix.2, ... until the first gap.
func (q queryParams) list(prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		key := prefix + "." + strconv.Itoa(i)
		if !q.has(key) {
			return out
		}
		out = append(out, q.get(key))
	}
}

// count returns how many indexed members prefix.N.* exist.
func (q queryParams) count(prefix string) int {
	n := 0
	for i := 1; ; i++ {
		member := prefix + "." + strconv.Itoa(i)
		found := false
		for k := range q {
			if k == member || strings.HasPrefix(k, member+".") {
				found = true
				break
			}
		}
		if !found {
			return n
		}
		n++
	}
}

func (q queryParams) boolean(name string) bool {
	v, _ := strconv.ParseBool(q.get(name))
	return v
}

// integer returns the value of name, or def if absent; ok is false when the
// value is not a number.
func (q queryParams) integer(name string, def int) (int, bool) {
	v := q.get(name)
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}

// filter is one EC2 Filter.N with its values, compiled once per request.
type filter struct {
	name     string
	patterns []*regexp.Regexp
}

func (q queryParams) filters() []filter {
	var out []filter
	for i := 1; i <= q.count("Filter"); i++ {
		p := "Filter." + strconv.Itoa(i)
		f := filter{name: q.get(p + ".Name")}
		for _, v := range q.list(p + ".Value") {
			f.patterns = append(f.patterns, wildcardRegexp(v))
		}
		out = append(out, f)
	}
	return out
}

// tagList reads Prefix.N.Key / Prefix.N.Value pairs in order.
func (q queryParams) tagList(prefix string) []tagPair {
	var out []tagPair
	for i := 1; i <= q.count(prefix); i++ {
		p := prefix + "." + strconv.Itoa(i)
		out = append(out, tagPair{key: q.get(p + ".Key"), value: q.get(p + ".Value"), hasValue: q.has(p + ".Value")})
	}
	return out
}

type tagPair struct {
	key, value string
	hasValue   bool
}

// tagSpecs returns the tags that TagSpecification.N gives resourceType; a
// specification for another type is an error.
// https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_TagSpecification.html
func (q queryParams) tagSpecs(resourceType string) (tags, *apiError) {
	out := tags{}
	for i := 1; i <= q.count("TagSpecification"); i++ {
		p := "TagSpecification." + strconv.Itoa(i)
		if rt := q.get(p + ".ResourceType"); rt != resourceType {
			return nil, errInvalidParameterValue("TagSpecification.ResourceType", rt)
		}
		for _, t := range q.tagList(p + ".Tag") {
			if e := validateTag(t); e != nil {
				return nil, e
			}
			out[t.key] = t.value
		}
	}
	return out, nil
}

// validateTag applies the documented tag restrictions.
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions
func validateTag(t tagPair) *apiError {
	switch {
	case t.key == "" || len(t.key) > 128:
		return badRequest("InvalidParameterValue", "Tag key must be between 1 and 128 characters")
	case strings.HasPrefix(strings.ToLower(t.key), "aws:"):
		return badRequest("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
	case len(t.value) > 256:
		return badRequest("InvalidParameterValue", "Tag value must be at most 256 characters")
	}
	return nil
}
