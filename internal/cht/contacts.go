package cht

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
)

// maxLineageDepth caps how many ancestors are read from a stored lineage.
const maxLineageDepth = 64

// contactTypes are the doc types medic-admin/contacts_by_dhis_orgunit
// accepts (cht-core ddocs/medic-admin/views/contacts_by_dhis_orgunit).
var contactTypes = map[string]bool{
	"contact":           true,
	"person":            true,
	"clinic":            true,
	"health_center":     true,
	"district_hospital": true,
}

// Contacts streams every contact that carries a dhis mapping to fn, once
// each (the first row of a contact wins), in view order. It pages the view
// medic-admin/contacts_by_dhis_orgunit with include_docs. When the view or
// its design doc is absent (404), it scans _all_docs instead and keeps the
// docs the view would emit: a truthy dhis and a contact type. An error from
// fn stops the read and is returned as is.
func (c *Client) Contacts(ctx context.Context, fn func(aggregate.Contact) error) error {
	const op = "fetch contacts"
	seen := make(map[string]struct{})
	fnFailed := false
	emit := func(r *row, onlyViewDocs bool) error {
		if !r.hasDoc() {
			return nil
		}
		contact, w, ok := decodeContact(r.ID, r.Doc)
		if !ok || (onlyViewDocs && !viewWouldEmit(w)) {
			return nil
		}
		if _, dup := seen[contact.ID]; dup {
			return nil
		}
		seen[contact.ID] = struct{}{}
		if err := fn(contact); err != nil {
			fnFailed = true
			return callbackError{err}
		}
		return nil
	}
	docs := url.Values{}
	docs.Set("include_docs", "true")
	err := c.scan(ctx, scan{
		op:     op,
		path:   c.dbEndpoint("_design", "medic-admin", "_view", "contacts_by_dhis_orgunit"),
		params: docs,
		view:   true,
	}, func(r *row) error { return emit(r, false) })
	if err == nil || fnFailed || !errors.Is(err, ErrNotFound) {
		return err
	}
	c.fallbackOnce.Do(func() {
		c.log.Info("view medic-admin/contacts_by_dhis_orgunit is absent; scanning all docs for contacts with a dhis mapping",
			"database", c.db, "err", err)
	})
	return c.scan(ctx, scan{op: op, path: c.dbEndpoint("_all_docs"), params: docs},
		func(r *row) error { return emit(r, true) })
}

// Owners fetches the contacts with the given ids (the owners of target docs),
// with _all_docs keys requests of cfg.BatchSize ids, at most cfg.Concurrency
// at a time. The result follows the order of ids, without duplicates; ids
// that do not exist or were deleted are left out.
func (c *Client) Owners(ctx context.Context, ids []string) ([]aggregate.Owner, error) {
	const op = "fetch owners"
	uniq := make([]string, 0, len(ids))
	pos := make(map[string]int, len(ids))
	for _, id := range ids {
		if _, dup := pos[id]; !dup {
			pos[id] = len(uniq)
			uniq = append(uniq, id)
		}
	}
	if len(uniq) == 0 {
		return nil, nil
	}
	found := make([]*aggregate.Owner, len(uniq))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.concurrency)
	for start := 0; start < len(uniq); start += c.batchSize {
		end := min(start+c.batchSize, len(uniq))
		batch := uniq[start:end]
		g.Go(func() error {
			body, err := json.Marshal(struct {
				Keys []string `json:"keys"`
			}{batch})
			if err != nil {
				return err
			}
			u := c.dbEndpoint("_all_docs")
			u.RawQuery = "include_docs=true"
			var dec ownerDecoder
			return c.do(gctx, request{op: op, method: http.MethodPost, u: u, body: body}, func(resp *http.Response) error {
				return readRowsDocs(gctx, resp.Body, dec.splitDoc, func(r *row) error {
					if !r.hasDoc() {
						return nil // missing ("error": "not_found") or deleted (doc null)
					}
					i, ok := pos[r.ID]
					if !ok || i < start || i >= end {
						return nil // not asked for in this batch
					}
					owner := dec.decode(r)
					found[i] = &owner
					return nil
				})
			})
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make([]aggregate.Owner, 0, len(uniq))
	for _, o := range found {
		if o != nil {
			out = append(out, *o)
		}
	}
	return out, nil
}

// wireContact is the part of a contact doc the export reads, as sub-slices
// of the doc (nil when absent).
type wireContact struct {
	ID     []byte
	Type   []byte
	Name   []byte
	DHIS   []byte
	Parent []byte
}

// readContact finds the members of a contact doc; ok is false when raw is
// not an object.
func readContact(raw []byte) (w wireContact, ok bool) {
	it := members(raw)
	for key, val, more := it.next(); more; key, val, more = it.next() {
		switch string(memberName(key)) {
		case "_id":
			w.ID = val
		case "type":
			w.Type = val
		case "name":
			w.Name = val
		case "dhis":
			w.DHIS = val
		case "parent":
			w.Parent = val
		}
	}
	return w, !it.bad
}

// decodeContact converts a contact doc; rowID is used when the doc has no
// string _id. ok is false when raw is not an object.
func decodeContact(rowID string, raw []byte) (aggregate.Contact, wireContact, bool) {
	w, ok := readContact(raw)
	if !ok {
		return aggregate.Contact{}, w, false
	}
	id, ok := jsonString(w.ID)
	if !ok || id == "" {
		id = rowID
	}
	name, _ := jsonString(w.Name)
	return aggregate.Contact{
		ID:       id,
		Name:     name,
		OrgUnits: orgUnits(w.DHIS),
		Lineage:  lineage(id, w.Parent),
	}, w, true
}

// decodeOwner converts an owner doc: in one pass when it has the usual
// shape (see decodeOwnerFast), else with the general walker, which gives
// the same result for the usual shape (FuzzDecodeOwner_fast checks it).
func decodeOwner(rowID string, raw []byte) aggregate.Owner {
	if o, ok := decodeOwnerFast(rowID, raw); ok {
		return o
	}
	return decodeOwnerSlow(rowID, raw)
}

// ownerDecoder decodes the owner docs of one read while their rows are
// split (scanner.doc).
type ownerDecoder struct {
	sc    scanner
	split aggregate.Owner // the doc splitDoc decoded last
}

// splitDoc is the row splitter's doc hook: it decodes the owner doc at
// b[i], inside depth open containers, when it has the usual shape (see
// decodeOwnerFast) and an _id of its own, validating every byte as the
// splitter would, keeps it in d.split and returns the index after it.
func (d *ownerDecoder) splitDoc(b []byte, i, depth int) (int, bool) {
	o, end, ok := decodeOwnerFastAt(&d.sc, "", b, i, depth)
	if !ok || o.ID == "" { // the row's id would stand in: left to decodeOwner
		return 0, false
	}
	d.split = o
	return end, true
}

// decode decodes the doc of r: the one splitDoc decoded when it did.
func (d *ownerDecoder) decode(r *row) aggregate.Owner {
	if r.docDecoded {
		return d.split
	}
	return decodeOwner(r.ID, r.Doc)
}

// decodeOwnerFast decodes an owner doc whose member names have no escapes,
// whose _id and parent appear once, and whose every lineage level is an
// object with one plain string _id and at most one parent, reading the
// lineage where it stands instead of walking it once per level. For
// anything else, invalid JSON included, it reports false.
func decodeOwnerFast(rowID string, b []byte) (aggregate.Owner, bool) {
	var sc scanner
	o, end, ok := decodeOwnerFastAt(&sc, rowID, b, skipWS(b, 0), 0)
	if !ok || skipWS(b, end) != len(b) {
		return aggregate.Owner{}, false
	}
	return o, true
}

// decodeOwnerFastAt is decodeOwnerFast for the doc at b[i], inside depth
// open containers; it returns the index after the doc. Whatever it accepts
// is valid JSON, validated with s.
func decodeOwnerFastAt(s *scanner, rowID string, b []byte, i, depth int) (aggregate.Owner, int, bool) {
	var ids [maxLineageDepth + 1]string
	var idV []byte
	n := 0 // lineage ids read
	haveID, haveParent := false, false
	if i >= len(b) || b[i] != '{' || depth+1 > maxNesting {
		return aggregate.Owner{}, 0, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			name, j, ok := fastName(b, i)
			if !ok {
				return aggregate.Owner{}, 0, false
			}
			i = j
			switch string(name) {
			case "_id":
				if haveID {
					return aggregate.Owner{}, 0, false
				}
				haveID = true
				e := skipValue(s, b, i, depth+1)
				if e < 0 {
					return aggregate.Owner{}, 0, false
				}
				idV, i = b[i:e], e
			case "parent":
				if haveParent {
					return aggregate.Owner{}, 0, false
				}
				haveParent = true
				if i < len(b) && b[i] == '{' {
					if i, ok = fastLineage(s, b, i, depth+1, ids[:], &n); !ok {
						return aggregate.Owner{}, 0, false
					}
					break
				}
				fallthrough
			default:
				e := skipValue(s, b, i, depth+1)
				if e < 0 {
					return aggregate.Owner{}, 0, false
				}
				i = e
			}
			var end bool
			if i, end, ok = nextElem(b, i, '}'); !ok {
				return aggregate.Owner{}, 0, false
			}
			if end {
				break
			}
		}
	}
	id, ok := jsonString(idV)
	if !ok || id == "" {
		id = rowID
	}
	var out []string
	for _, anc := range ids[:n] {
		if anc == "" || anc == id || slices.Contains(out, anc) || len(out) == maxLineageDepth {
			break
		}
		out = append(out, anc)
	}
	return aggregate.Owner{ID: id, Lineage: out}, i, true
}

// fastLineage reads the lineage object at b[i] == '{', inside depth open
// containers, and those nested in its parent members, appending each
// level's _id to ids (n of them so far), and returns the index after the
// object, validated with s. Levels past len(ids) are only checked.
func fastLineage(s *scanner, b []byte, i, depth int, ids []string, n *int) (int, bool) {
	level := *n
	haveID, haveParent := false, false
	if depth+1 > maxNesting {
		return 0, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return 0, false // a level without _id: the walker decides
	}
	for {
		name, j, ok := fastName(b, i)
		if !ok {
			return 0, false
		}
		i = j
		switch string(name) {
		case "_id":
			if haveID || i >= len(b) || b[i] != '"' {
				return 0, false
			}
			e := stringEnd(b, i)
			if e < 0 {
				return 0, false
			}
			p, ok := plainString(b[i:e])
			if !ok {
				return 0, false
			}
			if level < len(ids) {
				ids[level] = string(p)
				if *n == level {
					*n = level + 1
				}
			}
			haveID = true
			i = e
		case "parent":
			if haveParent || !haveID && level < len(ids) {
				// A parent before this level's _id would be read first:
				// keep the walker's order.
				return 0, false
			}
			haveParent = true
			if i < len(b) && b[i] == '{' && level+1 < len(ids) {
				if *n != level+1 {
					return 0, false
				}
				if i, ok = fastLineage(s, b, i, depth+1, ids, n); !ok {
					return 0, false
				}
				break
			}
			e := skipValue(s, b, i, depth+1)
			if e < 0 {
				return 0, false
			}
			i = e
		default:
			e := skipValue(s, b, i, depth+1)
			if e < 0 {
				return 0, false
			}
			i = e
		}
		var end bool
		if i, end, ok = nextElem(b, i, '}'); !ok {
			return 0, false
		}
		if end {
			if !haveID {
				return 0, false
			}
			return i, true
		}
	}
}

// decodeOwnerSlow converts any owner doc with the general walker.
func decodeOwnerSlow(rowID string, raw []byte) aggregate.Owner {
	w, ok := readContact(raw)
	if !ok {
		return aggregate.Owner{ID: rowID}
	}
	id, ok := jsonString(w.ID)
	if !ok || id == "" {
		id = rowID
	}
	return aggregate.Owner{ID: id, Lineage: lineage(id, w.Parent)}
}

// viewWouldEmit reports whether medic-admin/contacts_by_dhis_orgunit emits a
// row for the doc: dhis truthy, type accepted, and (for an array) not empty
// and without a null element, on which the map function throws and CouchDB
// drops the doc.
func viewWouldEmit(w wireContact) bool {
	if !truthy(w.DHIS) {
		return false
	}
	t, ok := jsonString(w.Type)
	if !ok || !contactTypes[t] {
		return false
	}
	if isArray(w.DHIS) {
		n := 0
		it := elements(w.DHIS)
		for e, ok := it.next(); ok; e, ok = it.next() {
			if isNull(e) {
				return false
			}
			n++
		}
		if it.bad || n == 0 {
			return false
		}
	}
	return true
}

// orgUnits converts a contact's dhis object or array. Entries that are not
// objects, whose orgUnit is not a non-empty string, or whose dataSet is
// truthy but not a string (CHT could never match it) are skipped.
func orgUnits(raw []byte) []aggregate.OrgUnitMapping {
	var out []aggregate.OrgUnitMapping
	entry := func(e []byte) {
		var ouV, dsV []byte
		it := members(e)
		for key, val, ok := it.next(); ok; key, val, ok = it.next() {
			switch string(memberName(key)) {
			case "orgUnit":
				ouV = val
			case "dataSet":
				dsV = val
			}
		}
		if it.bad {
			return
		}
		ou, ok := jsonString(ouV)
		if !ok || ou == "" {
			return
		}
		m := aggregate.OrgUnitMapping{OrgUnit: ou}
		if truthy(dsV) {
			ds, ok := jsonString(dsV)
			if !ok {
				return
			}
			m.DataSet = ds
		}
		out = append(out, m)
	}
	switch {
	case isObject(raw):
		entry(raw)
	case isArray(raw):
		it := elements(raw)
		for e, ok := it.next(); ok; e, ok = it.next() {
			entry(e)
		}
	}
	return out
}

// lineage returns the ids of a doc's stored parent chain
// ({"_id": "a", "parent": {"_id": "b", …}}), nearest first. It stops at the
// first level without a string _id, at an id seen before (a cycle), and after
// maxLineageDepth levels.
func lineage(self string, parent []byte) []string {
	var out []string
	for len(out) < maxLineageDepth && isObject(parent) {
		var idV, next []byte
		it := members(parent)
		for key, val, ok := it.next(); ok; key, val, ok = it.next() {
			switch string(memberName(key)) {
			case "_id":
				idV = val
			case "parent":
				next = val
			}
		}
		if it.bad {
			break
		}
		id, ok := jsonString(idV)
		if !ok || id == "" || id == self || slices.Contains(out, id) {
			break
		}
		out = append(out, id)
		parent = next
	}
	return out
}

// BatchSize is the number of owner ids fetched per request (cht.batch_size).
func (c *Client) BatchSize() int { return c.batchSize }

// Concurrency is the number of owner requests sent at once
// (cht.concurrency).
func (c *Client) Concurrency() int { return c.concurrency }
