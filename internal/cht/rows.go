package cht

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// row is one row of an _all_docs or view answer:
// {"id": "...", "key": ..., "value": ..., "doc": {...}} or, for a missing
// key, {"key": "...", "error": "not_found"}. A deleted doc has
// "value": {"rev": …, "deleted": true} and "doc": null. Key and Doc are
// sub-slices of the decoder's buffer, valid only during the row callback.
type row struct {
	ID      string
	Key     json.RawMessage
	Deleted bool // value.deleted
	Doc     json.RawMessage
	Error   string
	// docDecoded is set when the scanner's doc hook (scanner.doc) decoded
	// Doc while splitting the row.
	docDecoded bool
}

// parse fills r from a row object, as sub-slices of b. It reports false
// when b is not an object or a member has an unexpected type.
func (r *row) parse(b []byte) bool {
	*r = row{}
	it := members(b)
	for key, val, ok := it.next(); ok; key, val, ok = it.next() {
		switch string(memberName(key)) {
		case "id":
			if isNull(val) {
				continue
			}
			id, ok := jsonString(val)
			if !ok {
				return false
			}
			r.ID = id
		case "key":
			r.Key = val
		case "value":
			r.Deleted = isObject(val) && deletedValue(val)
		case "doc":
			r.Doc = val
		case "error":
			if isNull(val) {
				continue
			}
			e, ok := jsonString(val)
			if !ok {
				return false
			}
			r.Error = e
		}
	}
	return !it.bad
}

// deletedValue reports whether an _all_docs row value has "deleted": true.
func deletedValue(b []byte) bool {
	it := members(b)
	for key, val, ok := it.next(); ok; key, val, ok = it.next() {
		if string(memberName(key)) == "deleted" && string(val) == "true" {
			return true
		}
	}
	return false
}

// hasDoc reports whether the row carries a document (not an error row, not a
// deleted doc, not a row without include_docs).
func (r *row) hasDoc() bool {
	return r.Error == "" && !r.Deleted && len(r.Doc) > 0 && !isNull(r.Doc)
}

// errStopRows, returned by a row callback, ends readRows early without error.
var errStopRows = errors.New("stop reading rows")

// readRows reads an {"total_rows": …, "offset": …, "rows": [ … ]} answer
// and hands each row to fn as soon as it has been read and validated, so
// that only one row (and one read buffer) is held at a time; see
// rowscan.go. The row and its buffers are reused: fn must copy what it
// keeps. ctx is checked between rows. A row that is not an object or whose
// id or error member is neither a string nor null is skipped. Every byte of
// the answer is validated as encoding/json would; an error from fn is
// returned as is.
func readRows(ctx context.Context, r io.Reader, fn func(*row) error) error {
	return readRowsDocs(ctx, r, nil, fn)
}

// readRowsDocs is readRows with a hook that decodes each row's doc while
// the row is split (see scanner.doc); a row whose doc it decoded has
// docDecoded set.
func readRowsDocs(ctx context.Context, r io.Reader, doc func(b []byte, i, depth int) (int, bool), fn func(*row) error) error {
	br := bodyReader{r: r}
	s := scanner{doc: doc}
	c, err := br.skipSpace()
	if err != nil {
		return decodeErr(err)
	}
	if c != '{' {
		return unexpectedStart(&br, &s)
	}
	br.pos++
	sawRows := false
	for first := true; ; first = false {
		c, err := br.skipSpace()
		if err != nil {
			return decodeErr(err)
		}
		if c == '}' && first {
			br.pos++
			break
		}
		if c != '"' {
			return decodeErr(syntaxError(c, "looking for beginning of object key string"))
		}
		end, err := br.scanValue(&s, 1, nil)
		if err != nil {
			return decodeErr(err)
		}
		isRows := string(memberName(br.buf[br.pos+1:end-1])) == "rows"
		br.pos = end
		if c, err = br.skipSpace(); err != nil {
			return decodeErr(err)
		}
		if c != ':' {
			return decodeErr(syntaxError(c, "after object key"))
		}
		br.pos++
		if _, err := br.skipSpace(); err != nil {
			return decodeErr(err)
		}
		if isRows {
			sawRows = true
			if err := readRowsArray(ctx, &br, &s, fn); err != nil {
				return err
			}
		} else {
			end, err := br.scanValue(&s, 1, nil)
			if err != nil {
				return decodeErr(err)
			}
			br.pos = end
		}
		if c, err = br.skipSpace(); err != nil {
			return decodeErr(err)
		}
		if c == '}' {
			br.pos++
			break
		}
		if c != ',' {
			return decodeErr(syntaxError(c, "after object key:value pair"))
		}
		br.pos++
	}
	if _, err := br.skipSpace(); !errors.Is(err, io.EOF) {
		if err != nil {
			return decodeErr(err)
		}
		return errors.New("decode rows: data after the answer")
	}
	if !sawRows {
		return errors.New("decode rows: the answer has no rows")
	}
	return nil
}

// readRowsArray reads the value of "rows" at br.pos: an array of rows, or
// null for none.
func readRowsArray(ctx context.Context, br *bodyReader, s *scanner, fn func(*row) error) error {
	if c := br.buf[br.pos]; c != '[' {
		end, err := br.scanValue(s, 1, nil)
		if err != nil {
			return decodeErr(err)
		}
		v := br.buf[br.pos:end]
		br.pos = end
		if string(v) == "null" {
			return nil // "rows": null, as no rows
		}
		return fmt.Errorf("decode rows: rows is %v, not an array", token(v))
	}
	br.pos++
	c, err := br.skipSpace()
	if err != nil {
		return decodeErr(err)
	}
	if c == ']' {
		br.pos++
		return nil
	}
	var (
		rw    row
		spans rowSpans
	)
	for {
		end, err := br.scanValue(s, 2, &spans)
		if err != nil {
			return decodeErr(err)
		}
		ok := rw.fromSpans(br.buf, br.pos, end, &spans)
		br.pos = end
		if ok {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(&rw); err != nil {
				return err
			}
		}
		if c, err = br.skipSpace(); err != nil {
			return decodeErr(err)
		}
		switch c {
		case ']':
			br.pos++
			return nil
		case ',':
			br.pos++
			if _, err := br.skipSpace(); err != nil {
				return decodeErr(err)
			}
		default:
			return decodeErr(syntaxError(c, "after array element"))
		}
	}
}

// fromSpans fills r from the row buf[start:end] whose members the scanner
// recorded in spans. It reports false, as parse does, when the row is not
// an object or its id or error is neither a string nor null.
func (r *row) fromSpans(buf []byte, start, end int, spans *rowSpans) bool {
	if buf[start] != '{' {
		return false
	}
	if spans.walk {
		return r.parse(buf[start:end])
	}
	*r = row{}
	get := func(f rowField) []byte {
		if at := spans.at[f]; at[0] >= 0 {
			return buf[at[0]:at[1]]
		}
		return nil
	}
	if v := get(fieldID); v != nil && !isNull(v) {
		id, ok := jsonString(v)
		if !ok {
			return false
		}
		r.ID = id
	}
	r.Key = get(fieldKey)
	if v := get(fieldValue); v != nil {
		r.Deleted = isObject(v) && deletedValue(v)
	}
	r.Doc = get(fieldDoc)
	r.docDecoded = spans.docAt >= 0 && spans.docAt == spans.at[fieldDoc][0]
	if v := get(fieldError); v != nil && !isNull(v) {
		e, ok := jsonString(v)
		if !ok {
			return false
		}
		r.Error = e
	}
	return true
}

// unexpectedStart is the error for an answer that does not start with '{'.
func unexpectedStart(br *bodyReader, s *scanner) error {
	c := br.buf[br.pos]
	if c == '[' {
		return errors.New(`decode rows: got [, want "{"`)
	}
	end, err := br.scanValue(s, 0, nil)
	if err != nil {
		return decodeErr(err)
	}
	return fmt.Errorf("decode rows: got %v, want %q", token(br.buf[br.pos:end]), "{")
}

// token renders a scalar JSON value or the first byte of a container the
// way a json.Decoder token prints.
func token(v []byte) any {
	switch v[0] {
	case '{', '[':
		return string(v[:1])
	case '"':
		s, _ := jsonString(v)
		return s
	case 't':
		return true
	case 'f':
		return false
	case 'n':
		return nil
	}
	f, _ := strconv.ParseFloat(string(v), 64)
	return f
}

// decodeErr wraps a decoding error; the end of the body inside the answer
// is an unexpected EOF.
func decodeErr(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("decode rows: %w", err)
}

// scan describes a paged read of _all_docs or a view.
type scan struct {
	op     string
	path   *url.URL   // _all_docs or the view, without query
	params url.Values // sent on every page (include_docs, endkey)
	// startKey is the first page's startkey as JSON; nil starts at the
	// beginning.
	startKey json.RawMessage
	// view pages with startkey + startkey_docid, because view keys repeat.
	// _all_docs ids are unique, so startkey alone is enough there.
	view bool
	// next, when set (_all_docs only), stops the scan after its first page
	// and receives the id the next page starts at ("" when there is none).
	next *string
	// doc, when set, decodes each row's doc while the row is split (see
	// scanner.doc).
	doc func(b []byte, i, depth int) (int, bool)
}

// scan reads every row of s, page by page, following the CouchDB pagination
// recipe: ask for pageSize+1 rows and start the next page at the extra row.
// emit gets each row once, in order.
//
// Servers that ignore startkey_docid (pouchdb-server) would restart a view
// page at the first row of the key; that is detected on the page's first row
// and the page is asked again with skip = the rows of that key already read.
func (c *Client) scan(ctx context.Context, s scan, emit func(*row) error) error {
	n := c.pageSize
	startKey := s.startKey
	var startID string // view: startkey_docid of this page
	skipMode := false  // view: page with skip instead of startkey_docid
	skip := 0          // view in skip mode: rows of startKey already read
	var runKey json.RawMessage
	runLen := 0 // rows in a row with key runKey
	for page := 0; ; page++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cht: %s: %w", s.op, err)
		}
		q := url.Values{}
		for k, v := range s.params {
			q[k] = v
		}
		q.Set("limit", strconv.Itoa(n+1))
		if startKey != nil {
			q.Set("startkey", string(startKey))
		}
		if page > 0 && s.view {
			if skipMode {
				if skip > 0 {
					q.Set("skip", strconv.Itoa(skip))
				}
			} else {
				q.Set("startkey_docid", startID)
			}
		}
		u := *s.path
		u.RawQuery = q.Encode()

		var (
			count    int
			firstKey json.RawMessage
			firstID  string
			hasNext  bool
			nextID   string
			nextKey  json.RawMessage
			restart  bool
		)
		err := c.do(ctx, request{op: s.op, method: http.MethodGet, u: &u}, func(resp *http.Response) error {
			err := readRowsDocs(ctx, resp.Body, s.doc, func(r *row) error {
				count++
				var key json.RawMessage
				if s.view {
					key = compactJSON(r.Key)
				}
				if count == 1 {
					firstKey, firstID = key, r.ID
					if page > 0 && s.view && !skipMode && bytes.Equal(key, startKey) && r.ID < startID {
						restart = true
						return errStopRows
					}
				}
				if count > n {
					hasNext, nextID, nextKey = true, r.ID, key
					return errStopRows
				}
				if s.view {
					if runKey != nil && bytes.Equal(key, runKey) {
						runLen++
					} else {
						runKey, runLen = key, 1
					}
				}
				return emit(r)
			})
			if errors.Is(err, errStopRows) {
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
		c.log.Debug("cht page read", "op", s.op, "page", page, "rows", count)
		if restart {
			skipMode = true
			c.skipModeOnce.Do(func() {
				c.log.Info("server ignores startkey_docid; paging the view with skip", "op", s.op)
			})
			continue
		}
		if !hasNext {
			return nil
		}
		if s.next != nil && !s.view {
			*s.next = nextID
			return nil
		}
		if nextID == firstID && bytes.Equal(nextKey, firstKey) {
			return fmt.Errorf("cht: %s: paging made no progress at id %q", s.op, nextID)
		}
		sentKey, sentID, sentSkip := startKey, startID, skip
		if s.view {
			startKey, startID = nextKey, nextID
			skip = 0
			if bytes.Equal(startKey, runKey) {
				skip = runLen
			}
		} else {
			startKey = encodeJSONString(nextID)
		}
		// A server that ignores startkey (a proxy dropping the query, a
		// broken rewrite) answers the same page again: asking the same
		// page again would never end.
		if page > 0 && bytes.Equal(startKey, sentKey) && (!s.view || (skipMode && skip == sentSkip) || (!skipMode && startID == sentID)) {
			return fmt.Errorf("cht: %s: paging made no progress at id %q (does the server ignore startkey?)", s.op, nextID)
		}
	}
}

// compactJSON returns a compact copy of raw; "null" for an absent value.
func compactJSON(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return append(json.RawMessage(nil), raw...)
	}
	return b.Bytes()
}

// encodeJSONString encodes s as a JSON string, without HTML escaping, so that
// U+FFF0 and the like travel as themselves.
func encodeJSONString(s string) json.RawMessage {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// jsonString decodes raw when it is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if p, ok := plainString(raw); ok {
		return string(p), true
	}
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// isNull reports whether raw is JSON null.
func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// isObject reports whether raw is a JSON object.
func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// isArray reports whether raw is a JSON array.
func isArray(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '['
}

// truthy is JavaScript truthiness of a JSON value: false for absent, null,
// false, 0 and "".
func truthy(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return false
	}
	switch raw[0] {
	case 'n', 'f':
		return false
	case '"':
		return len(raw) > 2
	case '{', '[', 't':
		return true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	return err != nil || f != 0
}

// describe renders a JSON value for a message: short values verbatim, long
// ones cut.
func describe(raw json.RawMessage) string {
	return truncate(string(compactJSON(raw)), 40)
}
