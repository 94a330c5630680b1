package gcpsim

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"unicode"
	"unicode/utf8"
)

// maxLabels is how many labels a resource may carry.
// https://cloud.google.com/compute/docs/labeling-resources#requirements
const maxLabels = 64

// emptyLabelFingerprint is the fingerprint Compute Engine reports for a
// resource without labels.
const emptyLabelFingerprint = "42WmSpB8rSM="

// validLabels applies the label requirements: at most 64 labels; keys of 1
// to 63 characters starting with a lowercase letter; values of at most 63
// characters; both made of lowercase letters, digits, underscores and
// dashes, international characters allowed. The error is the API's.
// https://cloud.google.com/compute/docs/labeling-resources#requirements
func validLabels(field string, labels map[string]string) *apiError {
	if len(labels) > maxLabels {
		return invalidField(field, "", fmt.Sprintf("Resource can have at most %d labels, but %d were specified.", maxLabels, len(labels)))
	}
	for _, k := range sortedKeys(labels) {
		if !validLabelKey(k) {
			return invalidField(field, "", fmt.Sprintf("Label key '%s' violates format constraints. The key must start with a lowercase character, can only contain lowercase letters, numeric characters, underscores and dashes. The key can be at most 63 characters long. International characters are allowed.", k))
		}
		if v := labels[k]; !validLabelValue(v) {
			return invalidField(field, "", fmt.Sprintf("Label value '%s' violates format constraints. The value can only contain lowercase letters, numeric characters, underscores and dashes. The value can be at most 63 characters long. International characters are allowed.", v))
		}
	}
	return nil
}

func labelRune(r rune) bool {
	return unicode.Is(unicode.Ll, r) || unicode.Is(unicode.Lo, r) || unicode.IsDigit(r) || unicode.Is(unicode.N, r) || r == '_' || r == '-'
}

func validLabelKey(k string) bool {
	if !utf8.ValidString(k) || k == "" || utf8.RuneCountInString(k) > 63 {
		return false
	}
	first, _ := utf8.DecodeRuneInString(k)
	if !unicode.Is(unicode.Ll, first) && !unicode.Is(unicode.Lo, first) {
		return false
	}
	for _, r := range k {
		if !labelRune(r) {
			return false
		}
	}
	return true
}

func validLabelValue(v string) bool {
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > 63 {
		return false
	}
	for _, r := range v {
		if !labelRune(r) {
			return false
		}
	}
	return true
}

// labelFingerprint is a hash of the labels, which setLabels must be given
// back so that concurrent changes are refused.
// https://cloud.google.com/compute/docs/labeling-resources#label_fingerprint
func labelFingerprint(labels map[string]string) string {
	if len(labels) == 0 {
		return emptyLabelFingerprint
	}
	h := sha256.New()
	keys := sortedKeys(labels)
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%q=%q;", k, labels[k])
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)[:8])
}
