package cht

// A small single-pass JSON walker for the hot paths (target docs, owner and
// contact docs): it finds members and elements as sub-slices of the input
// without copying, decoding or allocating, so a doc is read once instead of
// once per nesting level as with encoding/json and RawMessage. The input is
// normally valid JSON (json.Decoder has checked each row); on invalid input
// the walker reports failure, never panics, and always ends.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"unicode/utf8"
)

// skipWS returns the index of the first non-space byte at or after i.
func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the index just past the JSON string starting at b[i]
// (b[i] == '"'), or -1 when it does not end.
func stringEnd(b []byte, i int) int {
	for j := i + 1; ; j++ {
		if j = stringStop(b, j); j >= len(b) {
			return -1
		}
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
}

// stringStop returns the index of the first byte of b at or after j that
// ends a run of plain string bytes: '"', '\\' or a control character;
// len(b) when there is none. It tests eight bytes at a time: a byte equal
// to c is a zero byte of x^(c×0x01…01), and (v-0x01…01)&^v&0x80…80 marks
// the zero bytes of v, with false marks only above a true one, so the
// lowest mark is exact (likewise x-0x20…20 for the bytes below 0x20).
func stringStop(b []byte, j int) int {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	for ; j+8 <= len(b); j += 8 {
		x := binary.LittleEndian.Uint64(b[j:])
		q, bs := x^(ones*'"'), x^(ones*'\\')
		m := ((q - ones) &^ q) | ((bs - ones) &^ bs) | ((x - ones*0x20) &^ x)
		if m &= high; m != 0 {
			return j + bits.TrailingZeros64(m)/8
		}
	}
	for j < len(b) && strSafe[b[j]] {
		j++
	}
	return j
}

// valueEnd returns the index just past the JSON value starting at b[i], or
// -1 when there is no complete value there.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e := stringEnd(b, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	case ',', ':', '}', ']':
		return -1
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ':', ' ', '\t', '\n', '\r', '"', '{', '[':
			if j == i {
				return -1
			}
			return j
		}
		j++
	}
	return j
}

// members iterates over the members of a JSON object without allocating:
//
//	it := members(b)
//	for key, val, ok := it.next(); ok; key, val, ok = it.next() { … }
//	if it.bad { … }  // b was not a well-formed object
//
// key is the raw key between its quotes (see memberName).
type memberIter struct {
	b    []byte
	i    int
	done bool
	bad  bool
}

func members(b []byte) memberIter {
	it := memberIter{b: b}
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		it.done, it.bad = true, true
		return it
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		it.done = true
		it.bad = skipWS(b, i+1) != len(b)
	}
	it.i = i
	return it
}

func (it *memberIter) next() (key, val []byte, ok bool) {
	if it.done {
		return nil, nil, false
	}
	b, i := it.b, it.i
	fail := func() ([]byte, []byte, bool) {
		it.done, it.bad = true, true
		return nil, nil, false
	}
	if i >= len(b) || b[i] != '"' {
		return fail()
	}
	ke := stringEnd(b, i)
	if ke < 0 {
		return fail()
	}
	key = b[i+1 : ke-1]
	i = skipWS(b, ke)
	if i >= len(b) || b[i] != ':' {
		return fail()
	}
	i = skipWS(b, i+1)
	ve := valueEnd(b, i)
	if ve < 0 {
		return fail()
	}
	val = b[i:ve]
	i = skipWS(b, ve)
	if i >= len(b) {
		return fail()
	}
	switch b[i] {
	case ',':
		it.i = skipWS(b, i+1)
	case '}':
		it.done = true
		it.bad = skipWS(b, i+1) != len(b)
	default:
		return fail()
	}
	return key, val, true
}

// elementIter iterates over the elements of a JSON array, like memberIter.
type elementIter struct {
	b    []byte
	i    int
	done bool
	bad  bool
}

func elements(b []byte) elementIter {
	it := elementIter{b: b}
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '[' {
		it.done, it.bad = true, true
		return it
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		it.done = true
		it.bad = skipWS(b, i+1) != len(b)
	}
	it.i = i
	return it
}

func (it *elementIter) next() (elem []byte, ok bool) {
	if it.done {
		return nil, false
	}
	b, i := it.b, it.i
	ve := valueEnd(b, i)
	if ve < 0 {
		it.done, it.bad = true, true
		return nil, false
	}
	elem = b[i:ve]
	i = skipWS(b, ve)
	switch {
	case i < len(b) && b[i] == ',':
		it.i = skipWS(b, i+1)
	case i < len(b) && b[i] == ']':
		it.done = true
		it.bad = skipWS(b, i+1) != len(b)
	default:
		it.done, it.bad = true, true
		return nil, false
	}
	return elem, true
}

// memberName returns a raw member key (between its quotes) unescaped. Keys
// without escapes, the common case, are returned as they are.
func memberName(key []byte) []byte {
	if bytes.IndexByte(key, '\\') < 0 {
		return key
	}
	var s string
	q := make([]byte, 0, len(key)+2)
	q = append(append(append(q, '"'), key...), '"')
	if json.Unmarshal(q, &s) != nil {
		return key
	}
	return []byte(s)
}

// plainString returns the contents of the JSON string raw when it needs no
// unescaping and is valid UTF-8 (the common case), without allocating.
func plainString(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, false
	}
	inner := raw[1 : len(raw)-1]
	if stringStop(inner, 0) < len(inner) {
		return nil, false
	}
	if !utf8.Valid(inner) {
		return nil, false
	}
	return inner, true
}

// interner shares the strings of repeated values (target ids) across docs.
type interner map[string]string

// str returns raw's string, interned when in is not nil.
func (in interner) str(raw []byte) (string, bool) {
	if p, ok := plainString(raw); ok {
		if in == nil {
			return string(p), true
		}
		if s, ok := in[string(p)]; ok {
			return s, true
		}
		s := string(p)
		if len(in) < 4096 {
			in[s] = s
		}
		return s, true
	}
	return jsonString(raw)
}

// nextElem steps over what follows a member of an object (closer '}') or an
// element of an array (closer ']'): the separator or the closer, and the
// blanks around them. end reports that the closer was reached (i is then
// past it); ok is false for anything else than ',' or closer.
func nextElem(b []byte, i int, closer byte) (next int, end, ok bool) {
	i = skipWS(b, i)
	if i >= len(b) {
		return i, false, false
	}
	switch b[i] {
	case closer:
		return i + 1, true, true
	case ',':
		return skipWS(b, i+1), false, true
	}
	return i, false, false
}
