package aggregate

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"slices"
	"strings"
)

// Options selects the data values a Builder computes.
type Options struct {
	// DataSet is the DHIS2 data set uid; required, and it must be one of
	// CHT's dhis_data_sets.
	DataSet string
	// OrgUnit, when set, restricts the result to this org unit. Its values
	// are the same as in the unfiltered computation (descendants' docs still
	// roll up into it). CHT instead returns every org unit of the contacts
	// mapped to OrgUnit; we return OrgUnit only.
	OrgUnit string
	// Children, with OrgUnit, also returns every data-set-matching org unit
	// of every contact whose stored lineage passes through a contact mapped
	// to OrgUnit. Ignored without OrgUnit.
	Children bool
}

// Result is what a Builder computed.
type Result struct {
	// DataValues holds one value per (org unit, data element, category
	// option combo, attribute option combo), zero filled: org units sorted,
	// then in target-definition order (order of first appearance of each
	// mapping). A value's Attributes map is shared with other values of the
	// same mapping: treat it as read-only.
	DataValues []DataValue
	// Problems found in the CHT data, sorted by doc id, code, data element
	// and message.
	Problems []Problem
	// OrgUnits are the org units present in DataValues, sorted.
	OrgUnits []string
	// OrgUnitNames maps each org unit of OrgUnits to the name of the contact
	// holding it, for human-readable output. When several contacts hold one
	// org unit the one CHT would pick wins (see AddContact). Org units whose
	// contact has no name are absent.
	OrgUnitNames map[string]string
	// DataElementNames maps each data element of the data set to the id of
	// the last target definition mapped to it, as CHT's humanReadable does.
	DataElementNames map[string]string
	Stats            Stats
}

// Stats counts what happened to the target docs. Every doc passed to
// AddTargetDoc is in exactly one of Counted, Skipped, Duplicates,
// UnmappedDocs and Repeated, so they add up to TargetDocs.
type Stats struct {
	TargetDocs int `json:"targetDocs"` // docs passed to AddTargetDoc
	Counted    int `json:"counted"`    // docs whose totals were summed
	// Skipped docs are malformed or have an unknown owner; each is reported.
	Skipped int `json:"skipped"`
	// Duplicates are docs of an owner with a more recently updated doc in
	// the month; each is reported.
	Duplicates int `json:"duplicates"`
	// UnmappedDocs are docs of known owners that map to no (selected) org
	// unit of the data set: not counted, not reported, as in CHT.
	UnmappedDocs int `json:"unmappedDocs"`
	// Repeated docs had the id of a doc already added for the same owner
	// (a paging overlap); they are ignored.
	Repeated int `json:"repeated"`
	// InvalidEntries are targets[] entries of counted docs whose total could
	// not be used; each is reported.
	InvalidEntries int `json:"invalidEntries"`
	// UnknownOwners counts distinct owner ids that were not found.
	UnknownOwners int `json:"unknownOwners"`
	// UnmappedOwners counts distinct known owners that map to no (selected)
	// org unit of the data set.
	UnmappedOwners int `json:"unmappedOwners"`
}

// Builder computes the data values of one data set and month from streamed
// CHT data. Use it from one goroutine: NewBuilder, then AddContact for every
// contact of the dhis view, then AddTargetDoc for every target doc of the
// month, then OwnerIDs, then Result with the owners found.
//
// For a month of any size, add the docs in batches instead: after each
// batch, Flush with the batch's owners (OwnerIDs) folds the batch into the
// sums and forgets it, so that memory holds the sums, the problems and an
// 8-byte fingerprint per owner, not the month; Result then takes the owners
// of docs added since the last Flush. Every contact must be added before
// the first Flush. Batches must keep each owner's docs together (docs read
// in _id order and cut between two owners do): a doc of an owner flushed
// earlier makes Flush fail with ErrOwnerSplit.
//
// Memory before a Flush is bounded by the number of contacts and pending
// owners, not by the docs: per owner the builder keeps the winning doc id,
// its updated date and its totals per mapping (a []float64), never whole
// docs.
type Builder struct {
	opts Options

	cols       []column         // distinct mappings, in definition order
	targetCols map[string][]int // target id → its columns (last matching definition)
	deNames    map[string]string

	contacts map[string]contactInfo
	ouNames  map[string]nameEntry

	// Owners of the docs added since the last Flush.
	ownerIdx map[string]int // owner id → index into owners
	owners   [][]ownerState // chunks of ownerChunk, so that growing never copies
	nOwners  int
	sorted   []int          // owner indices sorted by id, for nOwners owners
	noOwner  []malformedDoc // malformed docs without an owner

	docs     int // AddTargetDoc calls
	repeated int
	blocks   [][]float64 // arena blocks for owners' totals, reused after a Flush
	block    int         // the block arena is carved from
	arena    []float64   // rest of the current block
	cache    []cacheEntry

	// Set by the first Flush.
	index     *rowIndex
	acc       accum                    // what flushed owners added
	flushed   map[uint64]struct{}      // fingerprints of flushed owners
	seed      maphash.Seed             // of the fingerprints
	ancestors map[string]ancestorEntry // lineage → rows, by nearest ancestor
	err       error                    // a failed Flush

	lookup *rowIndex // the rows for OrgUnitsUnder before any Flush
}

// ErrOwnerSplit is returned by Flush when docs of an owner already flushed
// were added: the month cannot be built batch by batch in that order.
var ErrOwnerSplit = errors.New("aggregate: target docs of one owner were split between flushes")

// rowIndex is the result's rows: the selected org units, sorted, and for
// each contact with at least one of them, its rows.
type rowIndex struct {
	ous         []string
	contactRows map[string][]int
}

// accum is what owners have added: the sums (row × column), the problems
// and the stats.
type accum struct {
	values   []float64
	problems []Problem
	stats    Stats
}

// ancestorEntry caches the rows of one stored lineage.
type ancestorEntry struct {
	lineage []string
	rows    []int
}

// maxAncestors bounds the lineage cache (distinct nearest ancestors).
const maxAncestors = 1 << 16

// column is one distinct mapping (data element and combos) of the data set.
type column struct {
	key   Key // OrgUnit is empty
	attrs map[string]json.RawMessage
}

type contactInfo struct {
	orgUnits []string // distinct org units of data-set-matching mappings
	lineage  []string // kept only when filtering with Children
}

// nameEntry is the contact currently naming an org unit, with its CHT view
// position (see AddContact).
type nameEntry struct {
	minKey, id, name string
}

// ownerChunk is the number of owners per chunk of Builder.owners.
const ownerChunk = 1024

type ownerState struct {
	id      string
	docID   string // winning doc; "" when only malformed docs were seen
	updated int64
	totals  []float64  // per column; nil when the doc has no mapped entry
	rare    *ownerRare // nil for the usual owner with one good doc
}

// ownerRare holds what only some owners have, out of line to keep
// ownerState small.
type ownerRare struct {
	invalid   []invalidEntry // of the winning doc
	losers    []docRef
	malformed []malformedDoc
}

func (o *ownerState) invalid() []invalidEntry {
	if o.rare == nil {
		return nil
	}
	return o.rare.invalid
}

func (o *ownerState) losers() []docRef {
	if o.rare == nil {
		return nil
	}
	return o.rare.losers
}

func (o *ownerState) malformed() []malformedDoc {
	if o.rare == nil {
		return nil
	}
	return o.rare.malformed
}

func (o *ownerState) more() *ownerRare {
	if o.rare == nil {
		o.rare = new(ownerRare)
	}
	return o.rare
}

type docRef struct {
	id      string
	updated int64
}

type invalidEntry struct {
	target, reason string
}

type malformedDoc struct {
	id, reason string
}

// cacheEntry remembers the columns of the i-th entry of the previous doc:
// docs written by one CHT configuration list their targets in one order,
// so a string comparison usually replaces a map lookup.
type cacheEntry struct {
	id   string
	cols []int
}

// NewBuilder prepares the computation of opts.DataSet from CHT's
// dhis_data_sets and target definitions.
//
// A mapping of a definition applies when it has a data element and no data
// set or opts.DataSet. Every applying mapping of a definition counts (CHT
// ignores dhis arrays); when several definitions share a target id the last
// one with an applying mapping wins, as in CHT. Mappings are keyed by data
// element and combos: the first appearance fixes the output order, the last
// one's attributes are copied. The errors wrap ErrUnknownDataSet or
// ErrNoDataElements.
func NewBuilder(opts Options, dataSets []DataSet, defs []TargetDef) (*Builder, error) {
	if opts.DataSet == "" {
		return nil, errorf(ErrUnknownDataSet, "data set is required")
	}
	if !slices.ContainsFunc(dataSets, func(ds DataSet) bool { return ds.ID == opts.DataSet }) {
		return nil, errorf(ErrUnknownDataSet, "data set %q is not in CHT's dhis_data_sets", opts.DataSet)
	}
	b := &Builder{
		opts:       opts,
		targetCols: make(map[string][]int),
		deNames:    make(map[string]string),
		contacts:   make(map[string]contactInfo),
		ouNames:    make(map[string]nameEntry),
		ownerIdx:   make(map[string]int),
	}
	index := make(map[Key]int)
	for _, def := range defs {
		var cols []int
		for _, m := range def.DHIS {
			if m.DataElement == "" || !matches(m.DataSet, opts.DataSet) {
				continue
			}
			k := Key{DataElement: m.DataElement, CategoryOptionCombo: m.CategoryOptionCombo, AttributeOptionCombo: m.AttributeOptionCombo}
			i, ok := index[k]
			if !ok {
				i = len(b.cols)
				index[k] = i
				b.cols = append(b.cols, column{key: k})
			}
			b.cols[i].attrs = maps.Clone(m.Attributes)
			b.deNames[m.DataElement] = def.ID
			if !slices.Contains(cols, i) {
				cols = append(cols, i)
			}
		}
		if len(cols) > 0 {
			b.targetCols[def.ID] = cols
		}
	}
	if len(b.cols) == 0 {
		return nil, errorf(ErrNoDataElements, "data set %q has no target mapped to it (no dhis.dataElement for it in tasks.targets.items)", opts.DataSet)
	}
	return b, nil
}

// matches reports whether a mapping scoped to dataSet ("" for every data
// set) applies to the requested data set.
func matches(dataSet, requested string) bool {
	return dataSet == "" || dataSet == requested
}

// AddContact adds a contact of the dhis view. Only its mappings with an org
// unit and no data set or the builder's are kept. A contact id seen before
// is ignored: CHT de-duplicates view rows by _id, keeping the first.
//
// For OrgUnitNames, when several contacts hold one org unit, the winner is
// the one CHT's makeHumanReadable would end on: the last in view order,
// i.e. the greatest (smallest org unit of any of its mappings, id), with
// byte order standing in for CouchDB's ICU collation.
func (b *Builder) AddContact(c Contact) {
	if b.index != nil {
		panic("aggregate: AddContact after Flush")
	}
	if _, seen := b.contacts[c.ID]; seen {
		return
	}
	// Keep copies: a decoder may slice these out of a page buffer.
	id, name := strings.Clone(c.ID), strings.Clone(c.Name)
	var info contactInfo
	minKey, first := "", true
	for _, m := range c.OrgUnits {
		if first || m.OrgUnit < minKey {
			minKey, first = m.OrgUnit, false
		}
	}
	for _, m := range c.OrgUnits {
		if m.OrgUnit == "" {
			continue
		}
		ou := strings.Clone(m.OrgUnit)
		if n, ok := b.ouNames[ou]; !ok || cmp.Or(cmp.Compare(minKey, n.minKey), cmp.Compare(id, n.id)) >= 0 {
			b.ouNames[ou] = nameEntry{minKey: strings.Clone(minKey), id: id, name: name}
		}
		if matches(m.DataSet, b.opts.DataSet) && !slices.Contains(info.orgUnits, ou) {
			info.orgUnits = append(info.orgUnits, ou)
		}
	}
	if b.opts.OrgUnit != "" && b.opts.Children && len(info.orgUnits) > 0 {
		info.lineage = make([]string, len(c.Lineage))
		for i, anc := range c.Lineage {
			info.lineage[i] = strings.Clone(anc)
		}
	}
	b.contacts[id] = info
}

// AddTargetDoc adds a target doc of the month. Of the docs of one owner only
// the most recently updated (UpdatedDate, then the greater id) counts; the
// others are reported as duplicates (CHT sums them all). A malformed doc
// is kept only as a problem to report; a targets[] entry whose target id is
// not mapped to the data set is ignored, as in CHT; a mapped entry with an
// invalid total is skipped and reported. The doc itself is not retained.
func (b *Builder) AddTargetDoc(d TargetDoc) {
	b.docs++
	if d.Owner == "" || d.ID == "" || d.Malformed != "" {
		reason := d.Malformed
		switch {
		case reason != "":
		case d.Owner == "":
			reason = "owner is missing"
		default:
			reason = "_id is missing"
		}
		md := malformedDoc{id: strings.Clone(d.ID), reason: strings.Clone(reason)}
		if d.Owner == "" {
			b.noOwner = append(b.noOwner, md)
			return
		}
		st := b.owner(d.Owner)
		st.more().malformed = append(st.more().malformed, md)
		return
	}
	st := b.owner(d.Owner)
	if st.docID == d.ID || slices.ContainsFunc(st.losers(), func(r docRef) bool { return r.id == d.ID }) {
		b.repeated++
		return
	}
	if st.docID != "" {
		r := st.more()
		if d.UpdatedDate < st.updated || d.UpdatedDate == st.updated && d.ID < st.docID {
			r.losers = append(r.losers, docRef{id: strings.Clone(d.ID), updated: d.UpdatedDate})
			return
		}
		r.losers = append(r.losers, docRef{id: st.docID, updated: st.updated})
		r.invalid = r.invalid[:0]
	}
	st.docID = strings.Clone(d.ID)
	st.updated = d.UpdatedDate
	clear(st.totals)
	for i, e := range d.Targets {
		cols := b.columnsOf(i, e.ID)
		if len(cols) == 0 {
			continue
		}
		reason := e.Invalid
		if reason == "" && (math.IsNaN(e.Total) || math.IsInf(e.Total, 0)) {
			reason = "value.total is not a finite number"
		}
		if reason != "" {
			r := st.more()
			r.invalid = append(r.invalid, invalidEntry{target: strings.Clone(e.ID), reason: strings.Clone(reason)})
			continue
		}
		if st.totals == nil {
			st.totals = b.alloc()
		}
		for _, c := range cols {
			st.totals[c] += e.Total
		}
	}
}

// owner returns the state of owner id, creating it. The id is cloned so
// that the builder never pins a decoder's buffer.
func (b *Builder) owner(id string) *ownerState {
	i, ok := b.ownerIdx[id]
	if !ok {
		id = strings.Clone(id)
		i = b.nOwners
		b.nOwners++
		b.ownerIdx[id] = i
		if i%ownerChunk == 0 {
			if n := len(b.owners); n < cap(b.owners) && b.owners[:n+1][n] != nil {
				b.owners = b.owners[:n+1] // a chunk kept by reset
			} else {
				b.owners = append(b.owners, make([]ownerState, 0, ownerChunk))
			}
		}
		last := len(b.owners) - 1
		b.owners[last] = append(b.owners[last], ownerState{id: id})
	}
	return b.ownerAt(i)
}

func (b *Builder) ownerAt(i int) *ownerState {
	return &b.owners[i/ownerChunk][i%ownerChunk]
}

// sortedOwners returns the owner indices sorted by owner id, computed once
// for a given set of owners.
func (b *Builder) sortedOwners() []int {
	if len(b.sorted) == b.nOwners {
		return b.sorted
	}
	b.sorted = make([]int, b.nOwners)
	for i := range b.sorted {
		b.sorted[i] = i
	}
	slices.SortFunc(b.sorted, func(i, j int) int { return strings.Compare(b.ownerAt(i).id, b.ownerAt(j).id) })
	return b.sorted
}

// columnsOf returns the columns of the target id found at position i of a
// doc's targets array.
func (b *Builder) columnsOf(i int, id string) []int {
	if i < len(b.cache) && b.cache[i].id == id {
		return b.cache[i].cols
	}
	cols := b.targetCols[id]
	switch {
	case i < len(b.cache):
		b.cache[i] = cacheEntry{id: strings.Clone(id), cols: cols}
	case i == len(b.cache) && i < 256:
		b.cache = append(b.cache, cacheEntry{id: strings.Clone(id), cols: cols})
	}
	return cols
}

// alloc returns a zeroed totals slice with one element per column, carved
// from arena blocks to avoid one allocation per owner.
func (b *Builder) alloc() []float64 {
	n := len(b.cols)
	if len(b.arena) < n {
		if len(b.blocks) > 0 && b.block+1 < len(b.blocks) {
			b.block++ // a block kept by reset
		} else {
			b.blocks = append(b.blocks, make([]float64, 1024*n))
			b.block = len(b.blocks) - 1
		}
		b.arena = b.blocks[b.block]
	}
	t := b.arena[:n:n]
	b.arena = b.arena[n:]
	clear(t)
	return t
}

// reset forgets the pending owners after a Flush, keeping their memory for
// the next batch.
func (b *Builder) reset() {
	for _, chunk := range b.owners {
		clear(chunk[:cap(chunk)])
	}
	for i := range b.owners {
		b.owners[i] = b.owners[i][:0]
	}
	b.owners = b.owners[:0]
	clear(b.ownerIdx)
	b.nOwners = 0
	b.sorted = b.sorted[:0]
	b.noOwner = nil
	b.block = 0
	b.arena = nil
	if len(b.blocks) > 0 {
		b.arena = b.blocks[0]
	}
}

// OwnerIDs returns the sorted distinct owners of the docs added since the
// last Flush (all of them without Flush), malformed docs included (to tell
// whether their problem matters): the contacts whose docs (with their
// stored lineage) the caller fetches for Flush or Result.
func (b *Builder) OwnerIDs() []string {
	ids := make([]string, 0, b.nOwners)
	for _, i := range b.sortedOwners() {
		ids = append(ids, b.ownerAt(i).id)
	}
	return ids
}

// Flush folds the docs added since the last Flush into the sums, given
// their owners as Result takes them (owners found, with their stored
// lineage; an id of OwnerIDs missing from owners is unknown), and forgets
// them. The first Flush fixes the contacts. It fails with ErrOwnerSplit,
// and the builder is then unusable, when a doc of an owner flushed before
// was added since.
func (b *Builder) Flush(owners []Owner) error {
	if b.err != nil {
		return b.err
	}
	if b.index == nil {
		b.index = b.rows()
		b.acc.values = make([]float64, len(b.index.ous)*len(b.cols))
		b.acc.problems = []Problem{}
		b.flushed = make(map[uint64]struct{})
		b.seed = maphash.MakeSeed()
	}
	for i := range b.nOwners {
		id := b.ownerAt(i).id
		if _, ok := b.flushed[maphash.String(b.seed, id)]; ok {
			b.err = fmt.Errorf("%w: owner %q", ErrOwnerSplit, id)
			return b.err
		}
	}
	b.fold(&b.acc, b.index, owners)
	for i := range b.nOwners {
		b.flushed[maphash.String(b.seed, b.ownerAt(i).id)] = struct{}{}
	}
	b.reset()
	return nil
}

// Result computes the data values. owners are the owner contacts that were
// found, each with the lineage stored on its own doc; an owner id of
// OwnerIDs missing from owners is unknown (missing or deleted): its docs are
// skipped and reported. Other ids in owners are ignored, and of one id
// given twice the first counts. After Flush, owners are those of the docs
// added since the last Flush, and the flushed docs count as well.
//
// An owner counts toward its own org units (when it is itself a mapped
// contact) and those of every ancestor in its lineage, each once. Unlike
// CHT's in-place map walk the ancestors' own mappings are used, so the
// result does not depend on the order of owners. Each counted doc adds its
// totals once to every such org unit that is selected.
//
// Problems are reported for docs that matter: malformed docs and invalid
// entries of owners that map to a selected org unit, duplicates of such
// owners, every doc of an unknown owner (we cannot tell where it belongs)
// and malformed docs without an owner. Docs of known owners without a
// selected org unit are silently not counted, as in CHT.
//
// Result does not change the builder; it may be called again.
func (b *Builder) Result(owners []Owner) Result {
	var values []DataValue
	res := b.ResultTo(owners, func(n int) { values = make([]DataValue, 0, n) }, func(dv DataValue) { values = append(values, dv) })
	res.DataValues = values
	return res
}

// ResultTo is Result, except that the data values are handed to add, in
// Result's order, instead of collected in DataValues (which stays nil), so
// that a caller converting them holds one copy of the result, not two.
// size is called first, with their number.
func (b *Builder) ResultTo(owners []Owner, size func(n int), add func(DataValue)) Result {
	index := b.index
	var acc accum
	if index == nil {
		index = b.rows()
		acc.values = make([]float64, len(index.ous)*len(b.cols))
	} else {
		acc.values = slices.Clone(b.acc.values)
		acc.problems = slices.Clone(b.acc.problems)
		acc.stats = b.acc.stats
	}
	b.fold(&acc, index, owners)

	res := Result{Problems: acc.problems, Stats: acc.stats}
	if res.Problems == nil {
		res.Problems = []Problem{}
	}
	res.Stats.TargetDocs = b.docs
	res.Stats.Repeated = b.repeated
	slices.SortFunc(res.Problems, func(p, q Problem) int {
		return cmp.Or(
			strings.Compare(p.DocID, q.DocID),
			strings.Compare(p.Code, q.Code),
			strings.Compare(p.DataElement, q.DataElement),
			strings.Compare(p.Message, q.Message),
		)
	})

	ous, nc := index.ous, len(b.cols)
	size(len(acc.values))
	for r, ou := range ous {
		for c, col := range b.cols {
			k := col.key
			k.OrgUnit = ou
			add(DataValue{Key: k, Value: acc.values[r*nc+c], Attributes: col.attrs})
		}
	}
	res.OrgUnits = ous
	res.OrgUnitNames = make(map[string]string, len(ous))
	for _, ou := range ous {
		if n := b.ouNames[ou].name; n != "" {
			res.OrgUnitNames[ou] = n
		}
	}
	res.DataElementNames = make(map[string]string, len(b.deNames))
	maps.Copy(res.DataElementNames, b.deNames)
	return res
}

// fold adds the pending owners' docs to acc: their totals to the rows of
// their org units, their problems and their counts. It changes only acc
// (and the lineage cache).
func (b *Builder) fold(acc *accum, index *rowIndex, owners []Owner) {
	// given[i] is the position in owners of owner i, -1 when not found.
	given := make([]int32, b.nOwners)
	for i := range given {
		given[i] = -1
	}
	for pos, o := range owners {
		if i, ok := b.ownerIdx[o.ID]; ok && given[i] < 0 {
			given[i] = int32(pos)
		}
	}
	nc := len(b.cols)
	values, st := acc.values, &acc.stats
	for _, md := range b.noOwner {
		st.Skipped++
		acc.problems = append(acc.problems, Problem{
			Code: ProblemMalformedDoc, DocID: md.id,
			Message: fmt.Sprintf("target doc %q skipped: %s", md.id, md.reason),
		})
	}
	var rows []int
	for _, i := range b.sortedOwners() {
		o := b.ownerAt(i)
		if given[i] < 0 {
			st.UnknownOwners++
			acc.problems = b.unknownOwner(acc.problems, st, o)
			continue
		}
		rows = appendRows(rows[:0], index.contactRows[o.id])
		rows = appendRows(rows, b.ancestorRows(index, owners[given[i]].Lineage))
		if len(rows) == 0 {
			st.UnmappedOwners++
			st.UnmappedDocs += len(o.malformed()) + len(o.losers())
			if o.docID != "" {
				st.UnmappedDocs++
			}
			continue
		}
		for _, md := range o.malformed() {
			st.Skipped++
			acc.problems = append(acc.problems, Problem{
				Code: ProblemMalformedDoc, DocID: md.id,
				Message: fmt.Sprintf("target doc %q of owner %q skipped: %s", md.id, o.id, md.reason),
			})
		}
		if o.docID == "" {
			continue
		}
		st.Counted++
		if o.totals != nil {
			for _, r := range rows {
				row := values[r*nc : (r+1)*nc]
				for c, v := range o.totals {
					row[c] += v
				}
			}
		}
		for _, e := range o.invalid() {
			st.InvalidEntries++
			acc.problems = append(acc.problems, Problem{
				Code: ProblemInvalidTotal, DocID: o.docID, DataElement: b.dataElementOf(e.target),
				Message: fmt.Sprintf("target %q of target doc %q skipped: %s", e.target, o.docID, e.reason),
			})
		}
		for _, l := range o.losers() {
			st.Duplicates++
			acc.problems = append(acc.problems, Problem{
				Code: ProblemDuplicateDoc, DocID: l.id, Message: duplicateMessage(o, l),
			})
		}
	}
}

// ancestorRows returns the rows of the contacts of a stored lineage,
// cached by nearest ancestor: siblings share their lineage.
func (b *Builder) ancestorRows(index *rowIndex, lineage []string) []int {
	if len(lineage) == 0 {
		return nil
	}
	if e, ok := b.ancestors[lineage[0]]; ok && slices.Equal(e.lineage, lineage) {
		return e.rows
	}
	var rows []int
	for _, anc := range lineage {
		rows = appendRows(rows, index.contactRows[anc])
	}
	if b.ancestors == nil || len(b.ancestors) >= maxAncestors {
		b.ancestors = make(map[string]ancestorEntry)
	}
	b.ancestors[lineage[0]] = ancestorEntry{lineage: slices.Clone(lineage), rows: rows}
	return rows
}

// rows returns the selected org units of all contacts, sorted (the rows of
// the result), and for each contact with at least one, its rows.
func (b *Builder) rows() *rowIndex {
	selected := b.selection()
	rowOf := make(map[string]int)
	ous := []string{}
	for _, info := range b.contacts {
		for _, ou := range info.orgUnits {
			if _, ok := rowOf[ou]; ok || selected != nil && !selected[ou] {
				continue
			}
			rowOf[ou] = 0
			ous = append(ous, ou)
		}
	}
	slices.Sort(ous)
	for r, ou := range ous {
		rowOf[ou] = r
	}
	contactRows := make(map[string][]int)
	for id, info := range b.contacts {
		var rows []int
		for _, ou := range info.orgUnits {
			if r, ok := rowOf[ou]; ok {
				rows = append(rows, r)
			}
		}
		if len(rows) > 0 {
			contactRows[id] = rows
		}
	}
	return &rowIndex{ous: ous, contactRows: contactRows}
}

// appendRows appends to rows those of add not in it yet.
func appendRows(rows, add []int) []int {
	for _, r := range add {
		if !slices.Contains(rows, r) {
			rows = append(rows, r)
		}
	}
	return rows
}

// selection returns the org units to return, nil for all.
func (b *Builder) selection() map[string]bool {
	if b.opts.OrgUnit == "" {
		return nil
	}
	sel := map[string]bool{b.opts.OrgUnit: true}
	if !b.opts.Children {
		return sel
	}
	parents := make(map[string]bool)
	for id, info := range b.contacts {
		if slices.Contains(info.orgUnits, b.opts.OrgUnit) {
			parents[id] = true
		}
	}
	for _, info := range b.contacts {
		if slices.ContainsFunc(info.lineage, func(id string) bool { return parents[id] }) {
			for _, ou := range info.orgUnits {
				sel[ou] = true
			}
		}
	}
	return sel
}

// unknownOwner reports every doc of an owner that was not found.
func (b *Builder) unknownOwner(problems []Problem, st *Stats, o *ownerState) []Problem {
	for _, md := range o.malformed() {
		st.Skipped++
		problems = append(problems, Problem{
			Code: ProblemMalformedDoc, DocID: md.id,
			Message: fmt.Sprintf("target doc %q of owner %q skipped: %s", md.id, o.id, md.reason),
		})
	}
	docs := make([]string, 0, 1+len(o.losers()))
	if o.docID != "" {
		docs = append(docs, o.docID)
	}
	for _, l := range o.losers() {
		docs = append(docs, l.id)
	}
	for _, id := range docs {
		st.Skipped++
		problems = append(problems, Problem{
			Code: ProblemUnknownOwner, DocID: id,
			Message: fmt.Sprintf("target doc %q skipped: its owner %q does not exist (missing or deleted)", id, o.id),
		})
	}
	return problems
}

// dataElementOf returns the data element target maps to, "" when it maps
// to several.
func (b *Builder) dataElementOf(target string) string {
	de := ""
	for _, c := range b.targetCols[target] {
		switch d := b.cols[c].key.DataElement; {
		case de == "":
			de = d
		case de != d:
			return ""
		}
	}
	return de
}

func duplicateMessage(o *ownerState, l docRef) string {
	if l.updated == o.updated {
		return fmt.Sprintf("target doc %q skipped: owner %q also has target doc %q this month with the same updated_date %d; the greater id counts",
			l.id, o.id, o.docID, o.updated)
	}
	return fmt.Sprintf("target doc %q (updated_date %d) skipped: owner %q has a more recently updated target doc %q (updated_date %d) this month, which counts",
		l.id, l.updated, o.id, o.docID, o.updated)
}

// OrgUnitsUnder returns the selected org units (sorted) that a contact with
// the given id and stored lineage (nearest ancestor first) lies under, by
// the rule that places an owner's docs: its own org units and those of
// every ancestor. It tells which requested org units a CHT user belongs to.
// Call it after every contact was added.
func (b *Builder) OrgUnitsUnder(id string, lineage []string) []string {
	index := b.index
	if index == nil {
		if b.lookup == nil {
			b.lookup = b.rows()
		}
		index = b.lookup
	}
	rows := appendRows(nil, index.contactRows[id])
	for _, anc := range lineage {
		rows = appendRows(rows, index.contactRows[anc])
	}
	if len(rows) == 0 {
		return nil
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = index.ous[r]
	}
	slices.Sort(out)
	return out
}
