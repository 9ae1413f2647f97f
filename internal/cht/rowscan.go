package cht

// A streaming splitter for CouchDB's rows answers: it reads the body into a
// buffer, finds each row's end while validating it (the JSON grammar exactly
// as encoding/json accepts it, nesting limit included), and hands the row
// over as a sub-slice of the buffer, so a row is scanned once here and once
// more by the walker that decodes it, instead of twice by json.Decoder
// (scanner, then RawMessage copy) and once more by the walker. While it
// validates a row it records where the row's own members (id, key, value,
// doc, error) are, so the row need not be walked again. For target docs
// even the second scan goes: the target decoder validates and decodes a doc
// of the usual shape as the splitter reaches it (scanner.doc), and the
// splitter steps over it.
//
// BenchmarkReadRowsOnly and BenchmarkReadTargetPage measure it;
// BenchmarkDecoders compares it with encoding/json, goccy/go-json and
// bytedance/sonic.

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// maxNesting is encoding/json's limit on nested arrays and objects.
const maxNesting = 10000

// Scan results.
const (
	scanDone = iota // a complete value
	scanMore        // the value goes on past the end of the buffer
	scanBad         // not JSON; see scanner.err
)

// strSafe marks the bytes that may appear unescaped inside a JSON string and
// end nothing: everything but '"', '\\' and the control characters.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// rowField names a member of a row the scanner records.
type rowField int8

const (
	fieldNone rowField = iota - 1
	fieldID
	fieldKey
	fieldValue
	fieldDoc
	fieldError
	nRowFields
)

// rowSpans are the positions of a row's members in the scanned value:
// [start, end) per field, start < 0 when absent. walk is set when a member
// name has an escape (it may spell a field): then the caller walks the
// object instead.
type rowSpans struct {
	at   [nRowFields][2]int
	walk bool
	// docAt is where the scanner's doc hook last took a doc member of the
	// row (-1 when it did not): the row's doc was decoded there when docAt
	// is the doc member's start.
	docAt int
}

// scanner validates JSON values in a buffer. Its stack is reused.
type scanner struct {
	stack []byte // '{' or '[' per open container
	err   error  // after scanBad
	// doc, when set, is offered each object that is a row's doc member
	// (b[i] == '{', inside depth open containers). When it can decode and
	// validate the doc in one pass, as the scanner would validate it, it
	// returns the index after the doc and true, and the scanner goes on
	// from there; else the scanner validates the doc itself. So a row's doc
	// is read once instead of twice (split, then decoded).
	doc func(b []byte, i, depth int) (int, bool)
}

// syntaxError is a JSON syntax error worded like encoding/json's.
func syntaxError(c byte, context string) error {
	return fmt.Errorf("invalid character %s %s", quoteChar(c), context)
}

// quoteChar formats c as encoding/json does in its errors.
func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// value scans the JSON value starting at b[i] (no leading space) inside
// depth already open containers. It returns the index just past the value
// and scanDone, or scanMore when b ends first, or scanBad with s.err set.
// When spans is not nil and the value is an object, the positions of its
// members id, key, value, doc and error are recorded in spans (the last of
// duplicates wins); a key with an escape is recorded as fieldNone and the
// caller falls back to walking the object (see row.fromSpans).
func (s *scanner) value(b []byte, i, depth int, spans *rowSpans) (int, int) {
	st := s.stack[:0]
	defer func() { s.stack = st[:0] }()
	field, fieldStart := fieldNone, 0
	escapedKey := false
	if spans != nil {
		for f := range spans.at {
			spans.at[f] = [2]int{-1, -1}
		}
		spans.walk = false
		spans.docAt = -1
	}
	n := len(b)
value:
	if i >= n {
		return i, scanMore
	}
	if len(st) == 1 && spans != nil {
		fieldStart = i
		if field == fieldDoc && s.doc != nil && b[i] == '{' {
			spans.docAt = -1
			if e, ok := s.doc(b, i, depth+1); ok {
				spans.docAt = i
				i = e
				goto end
			}
		}
	}
	switch c := b[i]; c {
	case '{':
		if depth+len(st)+1 > maxNesting {
			s.err = syntaxError(c, "exceeded max depth")
			return i, scanBad
		}
		st = append(st, '{')
		i++
		for i < n && isSpace(b[i]) {
			i++
		}
		if i >= n {
			return i, scanMore
		}
		if b[i] == '}' {
			st = st[:len(st)-1]
			i++
			goto end
		}
		goto key
	case '[':
		if depth+len(st)+1 > maxNesting {
			s.err = syntaxError(c, "exceeded max depth")
			return i, scanBad
		}
		st = append(st, '[')
		i++
		for i < n && isSpace(b[i]) {
			i++
		}
		if i >= n {
			return i, scanMore
		}
		if b[i] == ']' {
			st = st[:len(st)-1]
			i++
			goto end
		}
		goto value
	case '"':
		// Most strings have no escape: find the closing quote here.
		j := stringStop(b, i+1)
		if j < n && b[j] == '"' {
			i = j + 1
			goto end
		}
		j, r := s.str(b, i)
		if r != scanDone {
			return j, r
		}
		i = j
		goto end
	case 't', 'f', 'n':
		lit := "null"
		if c == 't' {
			lit = "true"
		} else if c == 'f' {
			lit = "false"
		}
		for k := 0; k < len(lit); k++ {
			if i+k >= n {
				return i + k, scanMore
			}
			if b[i+k] != lit[k] {
				s.err = syntaxError(b[i+k], "in literal "+lit+" (expecting "+quoteChar(lit[k])+")")
				return i + k, scanBad
			}
		}
		i += len(lit)
		goto end
	default:
		if c == '-' || isDigit(c) {
			j, r := s.number(b, i)
			if r != scanDone {
				return j, r
			}
			i = j
			goto end
		}
		s.err = syntaxError(c, "looking for beginning of value")
		return i, scanBad
	}
key:
	// b[i] is the first byte of a member, after '{' or ',' and spaces.
	if b[i] != '"' {
		s.err = syntaxError(b[i], "looking for beginning of object key string")
		return i, scanBad
	}
	{
		j := stringStop(b, i+1)
		if j < n && b[j] == '"' {
			j++
		} else {
			var r int
			if j, r = s.str(b, i); r != scanDone {
				return j, r
			}
		}
		if len(st) == 1 && spans != nil {
			field = fieldOf(b[i+1 : j-1])
			if field == fieldNone && escaped(b[i+1:j-1]) {
				escapedKey = true
			}
		}
		i = j
	}
	for i < n && isSpace(b[i]) {
		i++
	}
	if i >= n {
		return i, scanMore
	}
	if b[i] != ':' {
		s.err = syntaxError(b[i], "after object key")
		return i, scanBad
	}
	i++
	for i < n && isSpace(b[i]) {
		i++
	}
	goto value
end:
	// A value ended at i; st holds the containers still open.
	if spans != nil && len(st) == 1 && field != fieldNone {
		spans.at[field] = [2]int{fieldStart, i}
		field = fieldNone
	}
	if len(st) == 0 {
		if spans != nil {
			spans.walk = escapedKey
		}
		return i, scanDone
	}
	for i < n && isSpace(b[i]) {
		i++
	}
	if i >= n {
		return i, scanMore
	}
	if st[len(st)-1] == '{' {
		switch b[i] {
		case ',':
			i++
			for i < n && isSpace(b[i]) {
				i++
			}
			if i >= n {
				return i, scanMore
			}
			goto key
		case '}':
			st = st[:len(st)-1]
			i++
			goto end
		}
		s.err = syntaxError(b[i], "after object key:value pair")
		return i, scanBad
	}
	switch b[i] {
	case ',':
		i++
		for i < n && isSpace(b[i]) {
			i++
		}
		goto value
	case ']':
		st = st[:len(st)-1]
		i++
		goto end
	}
	s.err = syntaxError(b[i], "after array element")
	return i, scanBad
}

// skipValue returns the index after the JSON value at b[i], inside depth
// open containers, validating it as value does; -1 when it is not valid
// JSON or does not end in b. The decoders that read a doc while the
// splitter steps over it (scanner.doc) skip what they do not read with it.
func skipValue(s *scanner, b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	// Plain strings and numbers, most of what is skipped, without value's
	// set-up.
	var e, r int
	switch c := b[i]; {
	case c == '"':
		if j := stringStop(b, i+1); j < len(b) && b[j] == '"' {
			return j + 1
		}
		e, r = s.value(b, i, depth, nil)
	case c == '-' || isDigit(c):
		e, r = s.number(b, i)
	default:
		e, r = s.value(b, i, depth, nil)
	}
	if r != scanDone {
		return -1
	}
	return e
}

// memberSink takes the members fastMembers finds.
type memberSink interface {
	member(name, val []byte)
}

// fastMembers walks the object at b[i], inside depth open containers,
// validating it as value does, and hands each member's name and value to
// sink in order. It returns the index after the object, or false when a
// member name has an escape or the object is not valid JSON: then the
// splitter validates the object and the general walker (members) reads
// it. A member name without escapes is its own text, so sink sees the
// names memberName would give.
func fastMembers(s *scanner, b []byte, i, depth int, sink memberSink) (int, bool) {
	if i >= len(b) || b[i] != '{' || depth+1 > maxNesting {
		return 0, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	for {
		name, j, ok := fastName(b, i)
		if !ok {
			return 0, false
		}
		e := skipValue(s, b, j, depth+1)
		if e < 0 {
			return 0, false
		}
		sink.member(name, b[j:e])
		var end bool
		if i, end, ok = nextElem(b, e, '}'); !ok {
			return 0, false
		}
		if end {
			return i, true
		}
	}
}

// walkMembers hands each member of the object raw to sink, as members
// finds them; false when raw is not a well-formed object.
func walkMembers(raw []byte, sink memberSink) bool {
	it := members(raw)
	for key, val, ok := it.next(); ok; key, val, ok = it.next() {
		sink.member(memberName(key), val)
	}
	return !it.bad
}

// memberDecoder gathers the members of the docs of one read into an M:
// while their rows are split (splitDoc as the scanner's doc hook), or by
// walking a doc the splitter did not hand over.
type memberDecoder[M any, P interface {
	*M
	memberSink
}] struct {
	sc    scanner
	split M // of the doc splitDoc read last, sub-slices of the row
}

// splitDoc is the row splitter's doc hook: it reads the members of the doc
// at b[i], inside depth open containers, validating every byte as the
// splitter would (fastMembers), and returns the index after it.
func (d *memberDecoder[M, P]) splitDoc(b []byte, i, depth int) (int, bool) {
	var zero M
	d.split = zero
	return fastMembers(&d.sc, b, i, depth, P(&d.split))
}

// of returns the members of r's doc: those splitDoc read when it read
// them, else walked now; false when the doc is not a well-formed object.
func (d *memberDecoder[M, P]) of(r *row) (M, bool) {
	if r.docDecoded {
		return d.split, true
	}
	var m M
	ok := walkMembers(r.Doc, P(&m))
	return m, ok
}

// str scans the string starting at b[i] == '"'.
func (s *scanner) str(b []byte, i int) (int, int) {
	n := len(b)
	j := i + 1
	for {
		j = stringStop(b, j)
		if j >= n {
			return j, scanMore
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, scanDone
		case c == '\\':
			if j+1 >= n {
				return j, scanMore
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				for k := 2; k < 6; k++ {
					if j+k >= n {
						return j + k, scanMore
					}
					if !isHex(b[j+k]) {
						s.err = syntaxError(b[j+k], "in \\u hexadecimal character escape")
						return j + k, scanBad
					}
				}
				j += 6
			default:
				s.err = syntaxError(b[j+1], "in string escape code")
				return j + 1, scanBad
			}
		default: // a control character
			s.err = syntaxError(c, "in string literal")
			return j, scanBad
		}
	}
}

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// number scans the number starting at b[i] ('-' or a digit). A number
// ends at the first byte that cannot continue it, so one at the end of b
// needs more input.
func (s *scanner) number(b []byte, i int) (int, int) {
	n := len(b)
	j := i
	if b[j] == '-' {
		j++
		if j >= n {
			return j, scanMore
		}
	}
	switch {
	case b[j] == '0':
		j++
	case isDigit(b[j]):
		for j < n && isDigit(b[j]) {
			j++
		}
	default:
		s.err = syntaxError(b[j], "in numeric literal")
		return j, scanBad
	}
	if j >= n {
		return j, scanMore
	}
	if b[j] == '.' {
		j++
		if j >= n {
			return j, scanMore
		}
		if !isDigit(b[j]) {
			s.err = syntaxError(b[j], "after decimal point in numeric literal")
			return j, scanBad
		}
		for j < n && isDigit(b[j]) {
			j++
		}
		if j >= n {
			return j, scanMore
		}
	}
	if b[j] == 'e' || b[j] == 'E' {
		j++
		if j >= n {
			return j, scanMore
		}
		if b[j] == '+' || b[j] == '-' {
			j++
			if j >= n {
				return j, scanMore
			}
		}
		if !isDigit(b[j]) {
			s.err = syntaxError(b[j], "in exponent of numeric literal")
			return j, scanBad
		}
		for j < n && isDigit(b[j]) {
			j++
		}
		if j >= n {
			return j, scanMore
		}
	}
	return j, scanDone
}

// fieldOf maps a raw member name to the row field it names.
func fieldOf(name []byte) rowField {
	switch string(name) {
	case "id":
		return fieldID
	case "key":
		return fieldKey
	case "value":
		return fieldValue
	case "doc":
		return fieldDoc
	case "error":
		return fieldError
	}
	return fieldNone
}

func escaped(name []byte) bool {
	for _, c := range name {
		if c == '\\' {
			return true
		}
	}
	return false
}

// bodyReader buffers a response body for the splitter: buf[pos:] is read
// and not yet consumed.
type bodyReader struct {
	r   io.Reader
	buf []byte
	pos int
	eof bool
}

const minBodyRead = 64 << 10

// more reads more of the body, keeping buf[pos:] (moved to the front). It
// returns io.EOF when the body has ended.
func (br *bodyReader) more() error {
	if br.eof {
		return io.EOF
	}
	if br.pos > 0 {
		k := copy(br.buf, br.buf[br.pos:])
		br.buf = br.buf[:k]
		br.pos = 0
	}
	if cap(br.buf)-len(br.buf) < minBodyRead/2 {
		nb := make([]byte, len(br.buf), max(2*cap(br.buf), minBodyRead))
		copy(nb, br.buf)
		br.buf = nb
	}
	for {
		n, err := br.r.Read(br.buf[len(br.buf):cap(br.buf)])
		br.buf = br.buf[:len(br.buf)+n]
		if errors.Is(err, io.EOF) {
			br.eof = true
			if n == 0 {
				return io.EOF
			}
			return nil
		}
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
	}
}

// skipSpace moves pos past white space and returns the next byte; ok is
// false at the end of the body (err io.EOF) or on a read error.
func (br *bodyReader) skipSpace() (byte, error) {
	for {
		for br.pos < len(br.buf) {
			if c := br.buf[br.pos]; !isSpace(c) {
				return c, nil
			}
			br.pos++
		}
		if err := br.more(); err != nil {
			return 0, err
		}
	}
}

// maxValueSize bounds one row (or other member of an answer): twice
// CouchDB's default max_document_size, so that an answer that never ends a
// value is an error, not a buffer that grows until the call's timeout.
const maxValueSize = 16 << 20

// scanValue scans the value at pos (after spaces), reading more of the
// body as needed, and returns its end; the value is buf[pos:end].
func (br *bodyReader) scanValue(s *scanner, depth int, spans *rowSpans) (int, error) {
	for {
		end, r := s.value(br.buf, br.pos, depth, spans)
		switch r {
		case scanDone:
			return end, nil
		case scanBad:
			return 0, s.err
		}
		if len(br.buf)-br.pos > maxValueSize {
			return 0, fmt.Errorf("a row is larger than %d MiB", maxValueSize>>20)
		}
		if err := br.more(); err != nil {
			if errors.Is(err, io.EOF) {
				return 0, io.ErrUnexpectedEOF
			}
			return 0, err
		}
	}
}
