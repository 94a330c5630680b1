package custody

import (
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// parseStatementLayout reads a record's payload when it is in the form the ledger writes (RFC 8785
// JSON: no whitespace, plain numbers, strings with at most the short escapes), without the reflection
// of the full JSON decoder: the verifier's fast path, run once per record of a large case.
//
// It answers only where it is sure to agree with the full decoder (decodeStatement's jsonv2 parse):
// valid UTF-8, every member known and given once, every value of its field's JSON type. For anything
// else (whitespace, null, a \u escape of a surrogate, a number form, an unknown or repeated member,
// invalid UTF-8, deep nesting) it reports false and the full decoder decides. FuzzStatementLayout
// checks that it never accepts what the full decoder refuses, nor reads anything differently.
//
// The strings of the Statement it returns share one copy of the payload: a caller that keeps a few of
// them for long clones them.
func parseStatementLayout(payload []byte) (*Statement, bool) {
	return parseStatementLayoutWith(payload, nil)
}

// statementScratch is what a reader of many statements reuses from one to the next: the Statement
// and the maps of its subjects. A Statement read with it is valid until the next read, and while the
// payload it was read from is not changed: its strings are the payload's memory, not a copy (a copy
// of every payload is most of what the verifier allocates). What is kept of it must be cloned.
type statementScratch struct {
	st       Statement
	subjects []Subject           // storage for st.Subject
	maps     []map[string]string // empty maps to fill
}

// recycle takes back the maps of the last statement read.
func (sc *statementScratch) recycle() {
	for _, s := range sc.st.Subject {
		for _, m := range []map[string]string{s.Digest, s.Annotations} {
			if m != nil && len(sc.maps) < 64 {
				clear(m)
				sc.maps = append(sc.maps, m)
			}
		}
	}
	if sc.st.Subject != nil {
		sc.subjects = sc.st.Subject[:0]
	}
	clear(sc.subjects[:cap(sc.subjects)])
	sc.st = Statement{}
}

// parseStatementLayoutWith is parseStatementLayout reusing sc's storage when sc is not nil.
func parseStatementLayoutWith(payload []byte, sc *statementScratch) (*Statement, bool) {
	if !utf8.Valid(payload) {
		return nil, false
	}
	r := &layoutReader{scratch: sc}
	var st *Statement
	if sc != nil {
		sc.recycle()
		st = &sc.st
		r.s = unsafe.String(unsafe.SliceData(payload), len(payload))
	} else {
		st = &Statement{}
		r.s = string(payload)
	}
	var seen memberSet
	ok := r.object(func(key string) bool {
		switch key {
		case "_type":
			return seen.first(0) && r.str(&st.Type)
		case "subject":
			return seen.first(1) && r.subjects(&st.Subject)
		case "predicateType":
			return seen.first(2) && r.str(&st.PredicateType)
		case "predicate":
			return seen.first(3) && r.event(&st.Predicate)
		}
		return false
	})
	if !ok || r.i != len(r.s) {
		return nil, false
	}
	return st, true
}

// memberSet records which members of an object were read, to refuse one given twice (the full
// decoder refuses duplicate names).
type memberSet uint32

func (m *memberSet) first(i uint) bool {
	if *m&(1<<i) != 0 {
		return false
	}
	*m |= 1 << i
	return true
}

// maxLayoutDepth bounds the nesting the fast path follows in a record's details; deeper values go to
// the full decoder, whose own limit is far higher.
const maxLayoutDepth = 32

// layoutReader reads JSON values from s at i. Every method reports false, having read an unknown
// amount, when the text is not in the form it reads.
type layoutReader struct {
	s       string
	i       int
	depth   int
	scratch *statementScratch // storage to reuse, or nil
}

func (r *layoutReader) next(c byte) bool {
	if r.i < len(r.s) && r.s[r.i] == c {
		r.i++
		return true
	}
	return false
}

func (r *layoutReader) peek() byte {
	if r.i < len(r.s) {
		return r.s[r.i]
	}
	return 0
}

// object reads an object whose members member reads: it is called with each name, positioned on the
// value, and reads it.
func (r *layoutReader) object(member func(name string) bool) bool {
	if !r.next('{') {
		return false
	}
	if r.next('}') {
		return true
	}
	for {
		var name string
		if !r.str(&name) || !r.next(':') || !member(name) {
			return false
		}
		if r.next('}') {
			return true
		}
		if !r.next(',') {
			return false
		}
	}
}

// array reads an array whose elements elem reads.
func (r *layoutReader) array(elem func() bool) bool {
	if !r.next('[') {
		return false
	}
	if r.next(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if r.next(']') {
			return true
		}
		if !r.next(',') {
			return false
		}
	}
}

// str reads a string. Without escapes it is a substring of the payload; with the short escapes it is
// decoded; a \u escape is decoded unless it is half a surrogate pair (the full decoder decides those).
func (r *layoutReader) str(out *string) bool {
	if !r.next('"') {
		return false
	}
	start := r.i
	// The string ends at the first quote, unless an escape or a control character comes first.
	end := strings.IndexByte(r.s[start:], '"')
	if end < 0 {
		return false
	}
	for ; r.i < start+end; r.i++ {
		switch c := r.s[r.i]; {
		case c == '\\':
			return r.escaped(start, out)
		case c < 0x20:
			return false
		}
	}
	*out = r.s[start:r.i]
	r.i++
	return true
}

// escaped finishes a string begun at start that holds an escape at i.
func (r *layoutReader) escaped(start int, out *string) bool {
	buf := []byte(r.s[start:r.i])
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '"':
			*out = string(buf)
			r.i++
			return true
		case c < 0x20:
			return false
		case c != '\\':
			buf = append(buf, c)
			r.i++
			continue
		}
		if r.i+1 >= len(r.s) {
			return false
		}
		e := r.s[r.i+1]
		r.i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			if r.i+4 > len(r.s) {
				return false
			}
			v, err := strconv.ParseUint(r.s[r.i:r.i+4], 16, 16)
			if err != nil || v >= 0xD800 && v < 0xE000 {
				return false
			}
			buf = utf8.AppendRune(buf, rune(v))
			r.i += 4
		default:
			return false
		}
	}
	return false
}

// uint reads a non-negative integer in plain digits, short enough that it cannot overflow.
func (r *layoutReader) uint(out *uint64) bool {
	start := r.i
	for r.i < len(r.s) && r.s[r.i] >= '0' && r.s[r.i] <= '9' {
		r.i++
	}
	digits := r.s[start:r.i]
	if len(digits) == 0 || len(digits) > 19 || len(digits) > 1 && digits[0] == '0' {
		return false
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	*out = v
	return err == nil
}

// number reads a JSON number as the full decoder reads one into an interface: a float64, refusing
// what does not fit one.
func (r *layoutReader) number(out *any) bool {
	start := r.i
	r.next('-')
	if r.next('0') {
		if d := r.peek(); d >= '0' && d <= '9' {
			return false
		}
	} else if !r.digits() {
		return false
	}
	if r.next('.') && !r.digits() {
		return false
	}
	if r.next('e') || r.next('E') {
		if !r.next('+') {
			r.next('-')
		}
		if !r.digits() {
			return false
		}
	}
	f, err := strconv.ParseFloat(r.s[start:r.i], 64)
	*out = f
	return err == nil
}

func (r *layoutReader) digits() bool {
	start := r.i
	for r.i < len(r.s) && r.s[r.i] >= '0' && r.s[r.i] <= '9' {
		r.i++
	}
	return r.i > start
}

// literal reads the word w.
func (r *layoutReader) literal(w string) bool {
	if len(r.s)-r.i >= len(w) && r.s[r.i:r.i+len(w)] == w {
		r.i += len(w)
		return true
	}
	return false
}

// value reads any JSON value as the full decoder reads one into an interface.
func (r *layoutReader) value(out *any) bool {
	switch c := r.peek(); {
	case c == '"':
		var s string
		ok := r.str(&s)
		*out = s
		return ok
	case c == '{':
		m := map[string]any{}
		*out = m
		return r.anyMap(m)
	case c == '[':
		if r.depth++; r.depth > maxLayoutDepth {
			return false
		}
		list := []any{}
		ok := r.array(func() bool {
			var v any
			ok := r.value(&v)
			list = append(list, v)
			return ok
		})
		r.depth--
		*out = list
		return ok
	case c == 't':
		*out = true
		return r.literal("true")
	case c == 'f':
		*out = false
		return r.literal("false")
	case c == 'n':
		*out = nil
		return r.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return r.number(out)
	}
	return false
}

// anyMap reads an object into m, refusing a name given twice.
func (r *layoutReader) anyMap(m map[string]any) bool {
	if r.depth++; r.depth > maxLayoutDepth {
		return false
	}
	ok := r.object(func(name string) bool {
		if _, dup := m[name]; dup {
			return false
		}
		var v any
		ok := r.value(&v)
		m[name] = v
		return ok
	})
	r.depth--
	return ok
}

// stringMap reads an object of strings into a new map, refusing a name given twice.
func (r *layoutReader) stringMap(out *map[string]string) bool {
	var m map[string]string
	if sc := r.scratch; sc != nil && len(sc.maps) > 0 {
		m = sc.maps[len(sc.maps)-1]
		sc.maps = sc.maps[:len(sc.maps)-1]
	} else {
		m = map[string]string{}
	}
	*out = m
	return r.object(func(name string) bool {
		if _, dup := m[name]; dup {
			return false
		}
		var v string
		ok := r.str(&v)
		m[name] = v
		return ok
	})
}

func (r *layoutReader) strings(out *[]string) bool {
	list := []string{}
	ok := r.array(func() bool {
		var s string
		ok := r.str(&s)
		list = append(list, s)
		return ok
	})
	*out = list
	return ok
}

func (r *layoutReader) subjects(out *[]Subject) bool {
	list := []Subject{}
	if r.scratch != nil && r.scratch.subjects != nil {
		list = r.scratch.subjects[:0]
	}
	ok := r.array(func() bool {
		var s Subject
		var seen memberSet
		ok := r.object(func(key string) bool {
			switch key {
			case "name":
				return seen.first(0) && r.str(&s.Name)
			case "digest":
				return seen.first(1) && r.stringMap(&s.Digest)
			case "uri":
				return seen.first(2) && r.str(&s.URI)
			case "mediaType":
				return seen.first(3) && r.str(&s.MediaType)
			case "annotations":
				return seen.first(4) && r.stringMap(&s.Annotations)
			}
			return false
		})
		list = append(list, s)
		return ok
	})
	*out = list
	return ok
}

func (r *layoutReader) event(ev *Event) bool {
	var seen memberSet
	return r.object(func(key string) bool {
		switch key {
		case "action":
			return seen.first(0) && r.str(&ev.Action)
		case "actor":
			return seen.first(1) && r.actor(&ev.Actor)
		case "authority":
			ev.Authority = &Authority{}
			return seen.first(2) && r.authority(ev.Authority)
		case "caseId":
			return seen.first(3) && r.str(&ev.CaseID)
		case "details":
			ev.Details = map[string]any{}
			return seen.first(4) && r.anyMap(ev.Details)
		case "idempotencyToken":
			return seen.first(5) && r.str(&ev.Token)
		case "note":
			return seen.first(6) && r.str(&ev.Note)
		case "phase":
			return seen.first(7) && r.str(&ev.Phase)
		case "prev":
			return seen.first(8) && r.str(&ev.Prev)
		case "provider":
			ev.Provider = &Provider{}
			return seen.first(9) && r.provider(ev.Provider)
		case "providerTime":
			return seen.first(10) && r.str(&ev.ProviderTime)
		case "result":
			return seen.first(11) && r.result(&ev.Result)
		case "seq":
			return seen.first(12) && r.uint(&ev.Seq)
		case "signer":
			return seen.first(13) && r.signer(&ev.Signer)
		case "step":
			return seen.first(14) && r.str(&ev.Step)
		case "time":
			return seen.first(15) && r.str(&ev.Time)
		case "tool":
			return seen.first(16) && r.tool(&ev.Tool)
		}
		return false
	})
}

func (r *layoutReader) actor(a *Actor) bool {
	var seen memberSet
	return r.object(func(key string) bool {
		switch key {
		case "host":
			return seen.first(0) && r.str(&a.Host)
		case "operator":
			return seen.first(1) && r.str(&a.Operator)
		case "principal":
			return seen.first(2) && r.str(&a.Principal)
		}
		return false
	})
}

func (r *layoutReader) authority(a *Authority) bool {
	var seen memberSet
	return r.object(func(key string) bool {
		switch key {
		case "approver":
			return seen.first(0) && r.str(&a.Approver)
		case "justification":
			return seen.first(1) && r.str(&a.Justification)
		case "ticket":
			return seen.first(2) && r.str(&a.Ticket)
		}
		return false
	})
}

func (r *layoutReader) provider(p *Provider) bool {
	var seen memberSet
	return r.object(func(key string) bool {
		switch key {
		case "account":
			return seen.first(0) && r.str(&p.Account)
		case "cloud":
			return seen.first(1) && r.str(&p.Cloud)
		case "region":
			return seen.first(2) && r.str(&p.Region)
		case "requestIds":
			return seen.first(3) && r.strings(&p.RequestIDs)
		case "resources":
			return seen.first(4) && r.resources(&p.Resources)
		case "zone":
			return seen.first(5) && r.str(&p.Zone)
		}
		return false
	})
}

func (r *layoutReader) resources(out *[]Resource) bool {
	list := []Resource{}
	ok := r.array(func() bool {
		var res Resource
		var seen memberSet
		ok := r.object(func(key string) bool {
			switch key {
			case "id":
				return seen.first(0) && r.str(&res.ID)
			case "kind":
				return seen.first(1) && r.str(&res.Kind)
			}
			return false
		})
		list = append(list, res)
		return ok
	})
	*out = list
	return ok
}

func (r *layoutReader) result(res *Result) bool {
	var seen memberSet
	return r.object(func(key string) bool {
		switch key {
		case "code":
			return seen.first(0) && r.str(&res.Code)
		case "message":
			return seen.first(1) && r.str(&res.Message)
		case "status":
			return seen.first(2) && r.str(&res.Status)
		}
		return false
	})
}

func (r *layoutReader) signer(s *SignerInfo) bool {
	var seen memberSet
	return r.object(func(key string) bool {
		switch key {
		case "keyId":
			return seen.first(0) && r.str(&s.KeyID)
		case "keyRef":
			return seen.first(1) && r.str(&s.KeyRef)
		}
		return false
	})
}

func (r *layoutReader) tool(t *Tool) bool {
	var seen memberSet
	return r.object(func(key string) bool {
		switch key {
		case "commit":
			return seen.first(0) && r.str(&t.Commit)
		case "name":
			return seen.first(1) && r.str(&t.Name)
		case "version":
			return seen.first(2) && r.str(&t.Version)
		}
		return false
	})
}
