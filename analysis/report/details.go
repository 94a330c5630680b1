package report

import (
	"encoding/json"
	"strconv"
)

// Records' details are free-form JSON (decoded with UseNumber). These accessors read what they can and
// return zero values otherwise: a report shows what a record says, and never fails on its shape.

func detailMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func detailList(v any) []any {
	l, _ := v.([]any)
	return l
}

// detailString returns the first of keys that holds a string.
func detailString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// detailInt returns the first of keys that holds an integer (as a number or a decimal string).
func detailInt(m map[string]any, keys ...string) int64 {
	for _, k := range keys {
		switch v := m[k].(type) {
		case json.Number:
			if n, err := v.Int64(); err == nil {
				return n
			}
		case float64:
			return int64(v)
		case string:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n
			}
		}
	}
	return 0
}

// detailBool returns the first of keys that holds a boolean, and whether one did.
func detailBool(m map[string]any, keys ...string) (value, ok bool) {
	for _, k := range keys {
		if b, isBool := m[k].(bool); isBool {
			return b, true
		}
	}
	return false, false
}

func detailStrings(v any) []string {
	var out []string
	for _, x := range detailList(v) {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
