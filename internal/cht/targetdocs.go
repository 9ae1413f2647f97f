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

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
)

// TargetDocs streams the target docs of one reporting month, tagged docMonth
// ("2024-06") on the devices, to fn in _id order, and returns how many it
// passed. It pages _all_docs from "target~<docMonth>~" to
// "target~<docMonth>~\ufff0" with include_docs. Docs are decoded leniently
// (see decodeTargetDoc); deleted docs and error rows are skipped. An error
// from fn stops the read and is returned as is.
func (c *Client) TargetDocs(ctx context.Context, docMonth string, fn func(aggregate.TargetDoc) error) (int, error) {
	op := "fetch target docs " + docMonth
	if !validDocMonth(docMonth) {
		return 0, fmt.Errorf("cht: %s: month must look like 2024-06", op)
	}
	prefix := "target~" + docMonth + "~"
	params := url.Values{}
	params.Set("include_docs", "true")
	params.Set("endkey", string(encodeJSONString(prefix+"\ufff0")))
	n := 0
	var dec targetDecoder
	err := c.scan(ctx, scan{
		op:       op,
		path:     c.dbEndpoint("_all_docs"),
		params:   params,
		startKey: encodeJSONString(prefix),
	}, func(r *row) error {
		if !r.hasDoc() {
			return nil
		}
		doc := dec.decode(r.Doc)
		if doc.ID == "" {
			doc.ID = r.ID
		}
		n++
		if err := fn(doc); err != nil {
			return callbackError{err}
		}
		return nil
	})
	return n, err
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
	ids  interner
	hint int
}

func (d *targetDecoder) decode(raw []byte) aggregate.TargetDoc {
	var doc aggregate.TargetDoc
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
		doc.Malformed = "doc is not an object"
		return doc
	}
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
	doc.Malformed = strings.Join(problems, "; ")
	return doc
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
	f, err := jsonNumber(raw)
	if err != nil || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0
	}
	return int64(f)
}
