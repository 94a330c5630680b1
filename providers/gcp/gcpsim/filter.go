package gcpsim

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// A list filter, as the list methods document it: comparisons "field op
// value" with op one of = != > < >= <= : (":*" tests that a key is set) or
// eq / ne (RE2 matching the whole field), nested fields by dots, expressions
// in parentheses joined by AND (also implicit) and OR, each optionally
// preceded by NOT. OR binds tighter than AND, as in Google's filter grammar.
// https://cloud.google.com/compute/docs/reference/rest/v1/snapshots/list (filter)
// https://google.aip.dev/160
type filterExpr interface {
	match(doc map[string]any) bool
}

type andExpr []filterExpr
type orExpr []filterExpr
type notExpr struct{ e filterExpr }
type cmpExpr struct {
	path  []string
	op    string
	value string
	re    *regexp.Regexp
}

func (a andExpr) match(d map[string]any) bool {
	for _, e := range a {
		if !e.match(d) {
			return false
		}
	}
	return true
}

func (o orExpr) match(d map[string]any) bool {
	for _, e := range o {
		if e.match(d) {
			return true
		}
	}
	return false
}

func (n notExpr) match(d map[string]any) bool { return !n.e.match(d) }

func (c cmpExpr) match(d map[string]any) bool {
	values, present := lookup(d, c.path)
	if c.op == ":" && c.value == "*" {
		return present
	}
	if c.op == "!=" || c.op == "ne" {
		for _, v := range values {
			if c.equal(v) {
				return false
			}
		}
		return true
	}
	for _, v := range values {
		switch c.op {
		case "=", ":", "eq":
			if c.equal(v) {
				return true
			}
		default:
			if compare(v, c.value, c.op) {
				return true
			}
		}
	}
	return false
}

func (c cmpExpr) equal(v string) bool {
	if c.re != nil {
		return c.re.MatchString(v)
	}
	return v == c.value
}

func compare(v, w, op string) bool {
	a, errA := strconv.ParseFloat(v, 64)
	b, errB := strconv.ParseFloat(w, 64)
	cmp := strings.Compare(v, w)
	if errA == nil && errB == nil {
		switch {
		case a < b:
			cmp = -1
		case a > b:
			cmp = 1
		default:
			cmp = 0
		}
	}
	switch op {
	case ">":
		return cmp > 0
	case "<":
		return cmp < 0
	case ">=":
		return cmp >= 0
	case "<=":
		return cmp <= 0
	}
	return false
}

// lookup walks a dotted path through a JSON document; arrays match by any
// element. It returns the leaf values as strings.
func lookup(d any, path []string) ([]string, bool) {
	if len(path) == 0 {
		switch v := d.(type) {
		case string:
			return []string{v}, true
		case bool:
			return []string{strconv.FormatBool(v)}, true
		case float64:
			return []string{strconv.FormatFloat(v, 'f', -1, 64)}, true
		case []any:
			var out []string
			for _, e := range v {
				vs, _ := lookup(e, nil)
				out = append(out, vs...)
			}
			return out, len(v) > 0
		case nil:
			return nil, false
		default:
			b, _ := json.Marshal(v)
			return []string{string(b)}, true
		}
	}
	switch v := d.(type) {
	case map[string]any:
		next, ok := v[path[0]]
		if !ok {
			return nil, false
		}
		return lookup(next, path[1:])
	case []any:
		var out []string
		found := false
		for _, e := range v {
			vs, ok := lookup(e, path)
			out = append(out, vs...)
			found = found || ok
		}
		return out, found
	}
	return nil, false
}

// parseFilter parses a filter; "" matches everything.
func parseFilter(s string) (filterExpr, error) {
	toks, err := lexFilter(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return andExpr{}, nil
	}
	p := &filterParser{toks: toks}
	e, err := p.and()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos].text)
	}
	return e, nil
}

type filterToken struct {
	text   string
	quoted bool
}

func lexFilter(s string) ([]filterToken, error) {
	var out []filterToken
	for i := 0; i < len(s); {
		r := rune(s[i])
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '(' || r == ')':
			out = append(out, filterToken{text: string(r)})
			i++
		case r == '"' || r == '\'':
			j := strings.IndexByte(s[i+1:], s[i])
			if j < 0 {
				return nil, fmt.Errorf("unterminated string")
			}
			out = append(out, filterToken{text: s[i+1 : i+1+j], quoted: true})
			i += j + 2
		case strings.ContainsRune("=!<>:", r):
			j := i + 1
			if j < len(s) && s[j] == '=' && r != ':' && r != '=' {
				j++
			}
			out = append(out, filterToken{text: s[i:j]})
			i = j
		default:
			j := i
			for j < len(s) && !unicode.IsSpace(rune(s[j])) && !strings.ContainsRune("()=!<>:\"'", rune(s[j])) {
				j++
			}
			out = append(out, filterToken{text: s[i:j]})
			i = j
		}
	}
	return out, nil
}

type filterParser struct {
	toks []filterToken
	pos  int
}

func (p *filterParser) peek() (filterToken, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return filterToken{}, false
}

func (p *filterParser) and() (filterExpr, error) {
	var out andExpr
	for {
		t, ok := p.peek()
		if !ok || (t.text == ")" && !t.quoted) {
			break
		}
		if t.text == "AND" && !t.quoted {
			p.pos++
			continue
		}
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty expression")
	}
	return out, nil
}

func (p *filterParser) or() (filterExpr, error) {
	first, err := p.factor()
	if err != nil {
		return nil, err
	}
	out := orExpr{first}
	for {
		t, ok := p.peek()
		if !ok || t.text != "OR" || t.quoted {
			break
		}
		p.pos++
		e, err := p.factor()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if len(out) == 1 {
		return first, nil
	}
	return out, nil
}

func (p *filterParser) factor() (filterExpr, error) {
	t, ok := p.peek()
	if !ok {
		return nil, fmt.Errorf("unexpected end")
	}
	if !t.quoted && (t.text == "NOT" || t.text == "-") {
		p.pos++
		e, err := p.factor()
		return notExpr{e}, err
	}
	if !t.quoted && t.text == "(" {
		p.pos++
		e, err := p.and()
		if err != nil {
			return nil, err
		}
		if t, ok := p.peek(); !ok || t.text != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return e, nil
	}
	if p.pos+2 >= len(p.toks) {
		return nil, fmt.Errorf("incomplete comparison")
	}
	field, op, value := p.toks[p.pos], p.toks[p.pos+1], p.toks[p.pos+2]
	if field.quoted || op.quoted || (!value.quoted && (value.text == "(" || value.text == ")")) {
		return nil, fmt.Errorf("bad comparison near %q", field.text)
	}
	switch op.text {
	case "=", "!=", ">", "<", ">=", "<=", ":", "eq", "ne":
	default:
		return nil, fmt.Errorf("unknown operator %q", op.text)
	}
	p.pos += 3
	c := cmpExpr{path: strings.Split(field.text, "."), op: op.text, value: value.text}
	if op.text == "eq" || op.text == "ne" {
		re, err := regexp.Compile("^(?:" + value.text + ")$")
		if err != nil {
			return nil, fmt.Errorf("bad regular expression %q", value.text)
		}
		c.re = re
	}
	return c, nil
}
