package cht

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
)

// TargetDocs streams the target docs of one reporting month, tagged docMonth
// ("2024-06") on the devices, to fn in _id order, and returns how many it
// passed. It pages _all_docs from "target~<docMonth>~" to
// "target~<docMonth>~\ufff0" with include_docs. Docs are decoded leniently
// (see decodeTargetDoc); deleted docs and error rows are skipped. An error
// from fn stops the read and is returned as is.
//
// When the first page is full, the rest of the range is cut at the first
// hex digit of the owner id (target doc ids are target~<month>~<owner
// uuid>~<user>) into up to 16 ranges, read and decoded by up to
// cht.concurrency goroutines at once, each a page ahead at most, and
// handed to fn in _id order from the calling goroutine.
func (c *Client) TargetDocs(ctx context.Context, docMonth string, fn func(aggregate.TargetDoc) error) (int, error) {
	op := "fetch target docs " + docMonth
	if !validDocMonth(docMonth) {
		return 0, fmt.Errorf("cht: %s: month must look like 2024-06", op)
	}
	prefix := "target~" + docMonth + "~"
	n := 0
	emit := func(doc aggregate.TargetDoc) error {
		n++
		if err := fn(doc); err != nil {
			return callbackError{err}
		}
		return nil
	}
	var dec targetDecoder
	next := ""
	err := c.scan(ctx, c.targetScan(op, prefix, prefix, "", &next, &dec), func(r *row) error {
		if !r.hasDoc() {
			return nil
		}
		return emit(decodeRow(&dec, r))
	})
	if err != nil || next == "" {
		return n, err
	}
	ranges := splitRange(prefix, next)
	if len(ranges) == 1 || c.concurrency == 1 {
		err := c.scan(ctx, c.targetScan(op, prefix, next, "", nil, &dec), func(r *row) error {
			if !r.hasDoc() {
				return nil
			}
			return emit(decodeRow(&dec, r))
		})
		return n, err
	}
	return n, c.readRanges(ctx, op, prefix, ranges, emit)
}

// targetScan is the scan of the month's target docs from start to end
// (exclusive; "" for the end of the month) and, with next, the first page
// only. dec decodes the docs of the usual shape while the rows are split.
func (c *Client) targetScan(op, prefix, start, end string, next *string, dec *targetDecoder) scan {
	params := url.Values{}
	params.Set("include_docs", "true")
	if end == "" {
		params.Set("endkey", string(encodeJSONString(prefix+"\ufff0")))
	} else {
		params.Set("endkey", string(encodeJSONString(end)))
		params.Set("inclusive_end", "false")
	}
	return scan{op: op, path: c.dbEndpoint("_all_docs"), params: params, startKey: encodeJSONString(start), next: next,
		doc: dec.splitDoc}
}

// decodeRow decodes a row's target doc, taking its id from the row when
// the doc has none. A doc decoded while the row was split (dec.splitDoc)
// is not decoded again.
func decodeRow(dec *targetDecoder, r *row) aggregate.TargetDoc {
	var doc aggregate.TargetDoc
	if r.docDecoded {
		doc = dec.split
	} else {
		doc = dec.decode(r.Doc)
	}
	if doc.ID == "" {
		doc.ID = r.ID
	}
	return doc
}

// idRange is a range of doc ids, [start, end); end "" is the end of the
// month.
type idRange struct{ start, end string }

// splitRange cuts the ids from start to the end of the month at prefix+d
// for every hex digit d that sorts after start.
func splitRange(prefix, start string) []idRange {
	var cuts []string
	for _, d := range "123456789abcdef" {
		if b := prefix + string(d); b > start {
			cuts = append(cuts, b)
		}
	}
	out := make([]idRange, 0, len(cuts)+1)
	for _, cut := range cuts {
		out = append(out, idRange{start, cut})
		start = cut
	}
	return append(out, idRange{start, ""})
}

// readRanges reads ranges concurrently and hands their docs to emit in
// order. Each range is paged by one goroutine, at most c.concurrency at
// once, which decodes a page ahead of emit at most.
func (c *Client) readRanges(ctx context.Context, op, prefix string, ranges []idRange, emit func(aggregate.TargetDoc) error) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make([]chan []aggregate.TargetDoc, len(ranges))
	errs := make([]error, len(ranges))
	for k := range pages {
		pages[k] = make(chan []aggregate.TargetDoc, 1)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, c.concurrency)
	wg.Go(func() {
		for k, rg := range ranges {
			select {
			case sem <- struct{}{}:
			case <-rctx.Done():
				for j := k; j < len(ranges); j++ {
					errs[j] = fmt.Errorf("cht: %s: %w", op, rctx.Err())
					close(pages[j])
				}
				return
			}
			wg.Go(func() {
				defer func() { <-sem }()
				defer close(pages[k])
				var dec targetDecoder
				page := make([]aggregate.TargetDoc, 0, c.pageSize)
				send := func() error {
					select {
					case pages[k] <- page:
						page = make([]aggregate.TargetDoc, 0, c.pageSize)
						return nil
					case <-rctx.Done():
						return rctx.Err()
					}
				}
				err := c.scan(rctx, c.targetScan(op, prefix, rg.start, rg.end, nil, &dec), func(r *row) error {
					if !r.hasDoc() {
						return nil
					}
					page = append(page, decodeRow(&dec, r))
					if len(page) == cap(page) {
						if err := send(); err != nil {
							return callbackError{err}
						}
					}
					return nil
				})
				if err == nil && len(page) > 0 {
					err = send()
				}
				errs[k] = err
			})
		}
	})
	for k := range ranges {
		for page := range pages[k] {
			for _, doc := range page {
				if err := emit(doc); err != nil {
					cancel()
					if cb, ok := errors.AsType[callbackError](err); ok {
						return cb.err // fn's error, as is
					}
					return err
				}
			}
		}
		if err := errs[k]; err != nil {
			cancel()
			return err
		}
	}
	return nil
}

// validDocMonth reports whether m is YYYY-MM with a month 01–12.
func validDocMonth(m string) bool {
	if len(m) != 7 || m[4] != '-' {
		return false
	}
	for i, ch := range m {
		if i != 4 && (ch < '0' || ch > '9') {
			return false
		}
	}
	mm, _ := strconv.Atoi(m[5:])
	return mm >= 1 && mm <= 12
}

// decodeTargetDoc decodes one target doc leniently. It never fails: what is
// wrong with the doc as a whole goes to Malformed ("targets is missing",
// "targets is not an array", "owner is missing", "doc is not an object"),
// what is wrong with an entry goes to that entry's Invalid ("value is null",
// "value.total is missing", `value.total is "5", not a number`, "id is
// missing"). ID is "" when the doc has no string _id; the caller fills it
// from the row.
func decodeTargetDoc(raw json.RawMessage) aggregate.TargetDoc {
	var d targetDecoder
	return d.decode(raw)
}

// targetDecoder decodes the target docs of one read. It shares target id
// strings across docs and sizes each doc's Targets like the previous doc's.
type targetDecoder struct {
	ids   interner
	hint  int
	prev  []string            // the previous doc's target ids, by position
	arena []aggregate.Target  // see take
	sc    scanner             // validates what the one-pass decoder skips
	split aggregate.TargetDoc // the doc splitDoc decoded last
}

// splitDoc is the row splitter's doc hook (scanner.doc): it decodes the
// doc at b[i] when it has the usual shape, validating every byte as the
// splitter would (depth containers are open around it), keeps it in
// d.split and returns the index after it.
func (d *targetDecoder) splitDoc(b []byte, i, depth int) (int, bool) {
	doc, end, ok := d.decodeFastAt(b, i, depth)
	if !ok {
		return 0, false
	}
	d.split = doc
	return end, true
}

// decode decodes one doc: in one pass when it has the usual shape (see
// decodeFast), else with the general walker, which gives the same result
// for the usual shape (FuzzDecodeTargetDoc_fast checks it).
func (d *targetDecoder) decode(raw []byte) aggregate.TargetDoc {
	if doc, ok := d.decodeFast(raw); ok {
		return doc
	}
	return d.decodeSlow(raw)
}

// decodeSlow decodes any doc with the general walker.
func (d *targetDecoder) decodeSlow(raw []byte) aggregate.TargetDoc {
	var idV, ownerV, updatedV, targetsV []byte // nil: absent
	it := members(raw)
	for key, val, ok := it.next(); ok; key, val, ok = it.next() {
		switch string(memberName(key)) {
		case "_id":
			idV = val
		case "owner":
			ownerV = val
		case "updated_date":
			updatedV = val
		case "targets":
			targetsV = val
		}
	}
	if it.bad {
		return aggregate.TargetDoc{Malformed: "doc is not an object"}
	}
	return d.assemble(idV, ownerV, updatedV, targetsV, nil, false)
}

// assemble builds the doc from its members' raw values. When decoded is
// true, targets are the already decoded entries of targetsV, an array.
func (d *targetDecoder) assemble(idV, ownerV, updatedV, targetsV []byte, targets []aggregate.Target, decoded bool) aggregate.TargetDoc {
	var doc aggregate.TargetDoc
	doc.ID, _ = jsonString(idV)
	var problems []string
	switch owner, ok := jsonString(ownerV); {
	case len(ownerV) == 0 || isNull(ownerV):
		problems = append(problems, "owner is missing")
	case !ok:
		problems = append(problems, "owner is "+describe(ownerV)+", not a string")
	case owner == "":
		problems = append(problems, "owner is empty")
	default:
		doc.Owner = owner
	}
	doc.UpdatedDate = updatedDate(updatedV)
	switch {
	case decoded:
		d.hint = len(targets)
		doc.Targets = targets
	case len(targetsV) == 0 || isNull(targetsV):
		problems = append(problems, "targets is missing")
	case !isArray(targetsV):
		problems = append(problems, "targets is not an array")
	default:
		targets := make([]aggregate.Target, 0, d.hint)
		it := elements(targetsV)
		for e, ok := it.next(); ok; e, ok = it.next() {
			targets = append(targets, d.target(e))
		}
		if it.bad {
			problems = append(problems, "targets is not an array")
			break
		}
		d.hint = len(targets)
		doc.Targets = targets
	}
	if len(problems) > 0 {
		doc.Malformed = strings.Join(problems, "; ")
	}
	return doc
}

// decodeFast decodes a doc of the usual shape in one pass: an object whose
// member names have no escapes and appear once, whose targets (when an
// array) hold only objects {"id": "<plain string>", "value": {"total":
// <finite number>, …}, …} with each name once. For anything else it
// reports false and the general walker decides.
func (d *targetDecoder) decodeFast(b []byte) (aggregate.TargetDoc, bool) {
	doc, end, ok := d.decodeFastAt(b, skipWS(b, 0), 0)
	if !ok || skipWS(b, end) != len(b) {
		return aggregate.TargetDoc{}, false
	}
	return doc, true
}

// skip is skipValue with the decoder's scanner.
func (d *targetDecoder) skip(b []byte, i, depth int) int { return skipValue(&d.sc, b, i, depth) }

// decodeFastAt decodes the doc of the usual shape (see decodeFast) that
// starts at b[i], inside depth open containers, and returns the index
// after it. Whatever it accepts is valid JSON (encoding/json's grammar and
// nesting limit), so that the row splitter can take its word for the doc.
func (d *targetDecoder) decodeFastAt(b []byte, i, depth int) (aggregate.TargetDoc, int, bool) {
	var idV, ownerV, updatedV, targetsV []byte
	var targets []aggregate.Target
	decoded := false
	var seen [4]bool
	if i >= len(b) || b[i] != '{' || depth+1 > maxNesting {
		return aggregate.TargetDoc{}, 0, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			name, j, ok := fastName(b, i)
			if !ok {
				return aggregate.TargetDoc{}, 0, false
			}
			i = j
			slot := -1
			switch string(name) {
			case "_id":
				slot = 0
			case "owner":
				slot = 1
			case "updated_date":
				slot = 2
			case "targets":
				slot = 3
			}
			if slot >= 0 {
				if seen[slot] {
					return aggregate.TargetDoc{}, 0, false
				}
				seen[slot] = true
			}
			if slot == 3 && i < len(b) && b[i] == '[' {
				targets, i, ok = d.fastTargets(b, i, depth+1)
				if !ok {
					return aggregate.TargetDoc{}, 0, false
				}
				decoded = true
			} else {
				e := d.skip(b, i, depth+1)
				if e < 0 {
					return aggregate.TargetDoc{}, 0, false
				}
				switch slot {
				case 0:
					idV = b[i:e]
				case 1:
					ownerV = b[i:e]
				case 2:
					updatedV = b[i:e]
				case 3:
					targetsV = b[i:e]
				}
				i = e
			}
			var end bool
			if i, end, ok = nextElem(b, i, '}'); !ok {
				return aggregate.TargetDoc{}, 0, false
			}
			if end {
				break
			}
		}
	}
	return d.assemble(idV, ownerV, updatedV, targetsV, targets, decoded), i, true
}

// fastName reads a member name without escapes at b[i] and the colon
// after it, and returns the name and the index of the value.
func fastName(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	j := stringStop(b, i+1)
	if j >= len(b) || b[j] != '"' { // an escape (or a control character): the slow path
		return nil, 0, false
	}
	name := b[i+1 : j]
	j = skipWS(b, j+1)
	if j >= len(b) || b[j] != ':' {
		return nil, 0, false
	}
	return name, skipWS(b, j+1), true
}

// fastTargets decodes the targets array at b[i] == '[', inside depth open
// containers, when every entry has the usual shape; it returns the entries
// and the index after the array.
func (d *targetDecoder) fastTargets(b []byte, i, depth int) ([]aggregate.Target, int, bool) {
	if depth+2 > maxNesting { // the array and its entries
		return nil, 0, false
	}
	n := max(d.hint, 4)
	targets := d.take(n)
	done := func(end int) ([]aggregate.Target, int, bool) {
		if cap(targets) == n { // still in the arena: keep what it used
			d.arena = d.arena[:len(d.arena)+len(targets)]
		}
		return targets[:len(targets):len(targets)], end, true
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return done(i + 1)
	}
	for {
		if i >= len(b) || b[i] != '{' {
			return nil, 0, false
		}
		i = skipWS(b, i+1)
		var id string
		total, haveID, haveValue := 0.0, false, false
		for {
			name, j, ok := fastName(b, i)
			if !ok {
				return nil, 0, false
			}
			i = j
			switch string(name) {
			case "id":
				if haveID || i >= len(b) || b[i] != '"' {
					return nil, 0, false
				}
				e := i + 1
				for e < len(b) && b[e] != '"' && b[e] != '\\' && b[e] >= 0x20 {
					e++
				}
				if e >= len(b) || b[e] != '"' || e == i+1 {
					return nil, 0, false
				}
				id, ok = d.targetID(len(targets), b[i+1:e])
				if !ok {
					return nil, 0, false
				}
				haveID = true
				i = e + 1
			case "value":
				if haveValue {
					return nil, 0, false
				}
				total, i, ok = d.fastValue(b, i, depth+2)
				if !ok {
					return nil, 0, false
				}
				haveValue = true
			default:
				e := d.skip(b, i, depth+2)
				if e < 0 {
					return nil, 0, false
				}
				i = e
			}
			var end bool
			if i, end, ok = nextElem(b, i, '}'); !ok {
				return nil, 0, false
			}
			if end {
				break
			}
		}
		if !haveID || !haveValue {
			return nil, 0, false
		}
		targets = append(targets, aggregate.Target{ID: id, Total: total})
		var end, ok bool
		if i, end, ok = nextElem(b, i, ']'); !ok {
			return nil, 0, false
		}
		if end {
			return done(i)
		}
	}
}

// arenaTargets is the number of entries per arena block: the entries of
// about 200 docs of 20 targets share one allocation.
const arenaTargets = 4096

// take returns an empty slice of capacity n carved from the arena, so that
// docs' entries do not cost an allocation each. Appending past n moves the
// entries out of the arena.
func (d *targetDecoder) take(n int) []aggregate.Target {
	if cap(d.arena)-len(d.arena) < n {
		d.arena = make([]aggregate.Target, 0, max(arenaTargets, n))
	}
	at := len(d.arena)
	return d.arena[at : at : at+n]
}

// targetID returns the string of the target id raw (plain, not empty) at
// position pos of a doc's targets: the previous doc's id at that position
// when equal, else the interned string.
func (d *targetDecoder) targetID(pos int, raw []byte) (string, bool) {
	if pos < len(d.prev) && d.prev[pos] == string(raw) {
		return d.prev[pos], true // valid: it was checked when first seen
	}
	if !utf8.Valid(raw) {
		return "", false
	}
	if d.ids == nil {
		d.ids = interner{}
	}
	s, ok := d.ids[string(raw)]
	if !ok {
		s = string(raw)
		if len(d.ids) < 4096 {
			d.ids[s] = s
		}
	}
	switch {
	case pos < len(d.prev):
		d.prev[pos] = s
	case pos == len(d.prev) && pos < 256:
		d.prev = append(d.prev, s)
	}
	return s, true
}

// fastValue reads {"total": <finite number>, …} at b[i], inside depth open
// containers, each name once, and returns the total and the index after
// the object.
func (d *targetDecoder) fastValue(b []byte, i, depth int) (float64, int, bool) {
	if i >= len(b) || b[i] != '{' || depth+1 > maxNesting {
		return 0, 0, false
	}
	i = skipWS(b, i+1)
	total, have := 0.0, false
	for {
		name, j, ok := fastName(b, i)
		if !ok {
			return 0, 0, false
		}
		i = j
		var e int
		if i < len(b) && (b[i] == '-' || isDigit(b[i])) {
			var r int
			if e, r = d.sc.number(b, i); r != scanDone {
				return 0, 0, false
			}
		} else if e = d.skip(b, i, depth+1); e < 0 {
			return 0, 0, false
		}
		if string(name) == "total" {
			if have {
				return 0, 0, false
			}
			total, ok = fastNumber(b[i:e])
			if !ok {
				return 0, 0, false
			}
			have = true
		}
		var end bool
		if i, end, ok = nextElem(b, e, '}'); !ok {
			return 0, 0, false
		}
		if end {
			if !have {
				return 0, 0, false
			}
			return total, i, true
		}
	}
}

// fastNumber reads a finite JSON number; small integers without calling
// strconv.
func fastNumber(raw []byte) (float64, bool) {
	if len(raw) > 0 && len(raw) <= 15 {
		neg := raw[0] == '-'
		digits := raw
		if neg {
			digits = raw[1:]
		}
		if len(digits) > 0 && (digits[0] != '0' || len(digits) == 1) {
			n := int64(0)
			ok := true
			for _, c := range digits {
				if c < '0' || c > '9' {
					ok = false
					break
				}
				n = n*10 + int64(c-'0')
			}
			if ok {
				if neg {
					if n == 0 {
						return math.Copysign(0, -1), true
					}
					n = -n
				}
				return float64(n), true
			}
		}
	}
	f, err := jsonNumber(raw)
	return f, err == nil
}

// target decodes one entry of a target doc's targets array.
func (d *targetDecoder) target(raw []byte) aggregate.Target {
	var t aggregate.Target
	var idV, valueV []byte
	it := members(raw)
	for key, val, ok := it.next(); ok; key, val, ok = it.next() {
		switch string(memberName(key)) {
		case "id":
			idV = val
		case "value":
			valueV = val
		}
	}
	if it.bad {
		t.Invalid = "entry is " + describe(raw) + ", not an object"
		return t
	}
	if d.ids == nil {
		d.ids = interner{}
	}
	id, ok := d.ids.str(idV)
	switch {
	case len(idV) == 0 || isNull(idV):
		t.Invalid = "id is missing"
		return t
	case !ok:
		t.Invalid = "id is " + describe(idV) + ", not a string"
		return t
	case id == "":
		t.Invalid = "id is empty"
		return t
	}
	t.ID = id
	switch {
	case len(valueV) == 0:
		t.Invalid = "value is missing"
		return t
	case isNull(valueV):
		t.Invalid = "value is null"
		return t
	}
	var totalV []byte
	vit := members(valueV)
	for key, val, ok := vit.next(); ok; key, val, ok = vit.next() {
		if string(memberName(key)) == "total" {
			totalV = val
		}
	}
	if vit.bad {
		t.Invalid = "value is " + describe(valueV) + ", not an object"
		return t
	}
	if len(totalV) == 0 {
		t.Invalid = "value.total is missing"
		return t
	}
	total, err := jsonNumber(totalV)
	if err != nil {
		t.Invalid = "value.total is " + describe(totalV) + ", " + err.Error()
		return t
	}
	t.Total = total
	return t
}

var errNotNumber = errors.New("not a number")

// jsonNumber decodes raw when it is a finite JSON number.
func jsonNumber(raw []byte) (float64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, errNotNumber
	}
	for _, c := range raw {
		switch {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
		default:
			return 0, errNotNumber
		}
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if errors.Is(err, strconv.ErrSyntax) {
		return 0, errNotNumber
	}
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, errors.New("out of range")
	}
	return f, nil
}

// updatedDate reads updated_date (ms since the epoch); 0 when absent or not
// a number.
func updatedDate(raw []byte) int64 {
	f, ok := fastNumber(raw)
	if !ok || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0
	}
	return int64(f)
}
