package awssim

import (
	"regexp"
	"strconv"
	"strings"
)

// filterFields returns a resource's values for a filter name; known is false
// for a filter the action does not support.
type filterFields func(name string) (values []string, known bool)

// matchFilters applies EC2 filter semantics: every filter must match, a
// filter matches when any of its values does, and values may use the * and ?
// wildcards.
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Filtering.html
func matchFilters(fs []filter, fields filterFields) (bool, *apiError) {
	for _, f := range fs {
		have, known := fields(f.name)
		if !known {
			if tagValues, ok := tagFilter(f.name, nil); ok {
				have = tagValues
			} else {
				return false, badRequest("InvalidParameterValue", "The filter '%s' is invalid", f.name)
			}
		}
		if !anyMatch(f.patterns, have) {
			return false, nil
		}
	}
	return true, nil
}

// tagFields serves the tag filters every taggable resource supports.
func tagFields(t tags, name string) ([]string, bool) {
	return tagFilter(name, t)
}

func tagFilter(name string, t tags) ([]string, bool) {
	switch {
	case strings.HasPrefix(name, "tag:"):
		if v, ok := t[strings.TrimPrefix(name, "tag:")]; ok {
			return []string{v}, true
		}
		return nil, true
	case name == "tag-key":
		return t.sortedKeys(), true
	case name == "tag-value":
		var out []string
		for _, k := range t.sortedKeys() {
			out = append(out, t[k])
		}
		return out, true
	}
	return nil, false
}

func anyMatch(patterns []*regexp.Regexp, values []string) bool {
	for _, re := range patterns {
		for _, v := range values {
			if re.MatchString(v) {
				return true
			}
		}
	}
	return false
}

// wildcardRegexp compiles an EC2 filter value, where * matches any run of
// characters and ? any one character.
func wildcardRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func boolString(b bool) string { return strconv.FormatBool(b) }

func int32String(n int32) string { return strconv.Itoa(int(n)) }
