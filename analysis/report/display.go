package report

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// displayCopy returns a deep copy of r in which every string is passed through visible, so that no
// renderer can forget to show hidden characters (bidirectional overrides, control characters) for what
// they are. The report itself, and its JSON form, keep the exact strings.
func displayCopy(r *Report) (*Report, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("copying the report: %w", err)
	}
	var d Report
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("copying the report: %w", err)
	}
	rewriteStrings(reflect.ValueOf(&d).Elem(), visible)
	return &d, nil
}

// rewriteStrings replaces every string s reachable from v by f(s), in place.
func rewriteStrings(v reflect.Value, f func(string) string) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(f(v.String()))
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			rewriteStrings(v.Elem(), f)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			rewriteStrings(v.Field(i), f)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			rewriteStrings(v.Index(i), f)
		}
	case reflect.Map:
		// Map values cannot be set in place: copy each, rewrite it, store it back.
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			if e.Kind() == reflect.Interface && !e.IsNil() {
				inner := reflect.New(e.Elem().Type()).Elem()
				inner.Set(e.Elem())
				rewriteStrings(inner, f)
				e.Set(inner)
			} else {
				rewriteStrings(e, f)
			}
			v.SetMapIndex(k, e)
		}
	}
}
