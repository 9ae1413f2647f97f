package validate

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Stored is a data value as DHIS2 holds it (GET /api/dataValueSets), with
// the user DHIS2 recorded as having stored it.
type Stored struct {
	DataElement          string
	Period               string
	OrgUnit              string
	CategoryOptionCombo  string
	AttributeOptionCombo string
	Value                string
	StoredBy             string
}

// Kinds of Change.
const (
	// ChangeNew: DHIS2 holds nothing for the cell; the value is sent.
	ChangeNew = "new"
	// ChangeChanged: DHIS2 holds another value; the new one is sent.
	ChangeChanged = "changed"
	// ChangeUnchanged: DHIS2 holds the same value (or, for a zero it does
	// not store, nothing); nothing is sent.
	ChangeUnchanged = "unchanged"
	// ChangeDelete: an owned value the mediator no longer produces; it is
	// deleted.
	ChangeDelete = "delete"
	// ChangeKept: DHIS2 holds a value the mediator would change or delete
	// but may not: stored by another user, or deletion switched off.
	ChangeKept = "kept"
)

// Change is one cell where what the mediator produces and what DHIS2 holds
// differ.
type Change struct {
	Kind                 string `json:"kind"`
	DataElement          string `json:"dataElement"`
	Period               string `json:"period"`
	OrgUnit              string `json:"orgUnit"`
	CategoryOptionCombo  string `json:"categoryOptionCombo,omitempty"`
	AttributeOptionCombo string `json:"attributeOptionCombo,omitempty"`
	// Old is what DHIS2 holds ("" when nothing); New what the mediator
	// produces ("" for a deletion).
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
	// StoredBy is DHIS2's storedBy of the old value, when it is not the
	// mediator's own user.
	StoredBy string `json:"storedBy,omitempty"`
	// Reason explains a deletion or a kept value.
	Reason string `json:"reason,omitempty"`
}

// DiffOptions say what the mediator may do to values DHIS2 holds.
type DiffOptions struct {
	// Owners are the DHIS2 usernames whose values the mediator owns: its
	// own user (GET /api/me) and any storedBy the CHT mapping sets.
	// Compared without regard to case, as DHIS2 usernames are.
	Owners []string
	// DeleteStale deletes owned values the mediator no longer produces.
	DeleteStale bool
	// OverwriteOthers lets a CHT number replace a value stored by another
	// user. Values of other users are never deleted.
	OverwriteOthers bool
}

// Diff is the comparison of the produced values with DHIS2's.
type Diff struct {
	// Send are the values to push (new and changed), in input order.
	Send []Value
	// Delete are the owned values to delete, as DHIS2 holds them.
	Delete []Value
	// Changes lists every cell that is not unchanged, sorted by org unit,
	// data element and combos.
	Changes []Change
	// Counts per kind.
	New, Changed, Unchanged, Deleted, Kept int
}

// Compare classifies the values the mediator produces against those DHIS2
// holds. It is pure.
//
// produced are every value built from CHT, valid or not; valid are those
// that passed Check (and any lock prediction), the only ones that may be
// sent. stored are DHIS2's values for the same data set, period and org
// units. Keys compare with an empty combo read as md's default combo.
//
// For each valid value: nothing stored → new; the same value stored
// (numbers compare by value: "5" equals "5.0") → unchanged; another value
// stored → changed, unless another user stored it and OverwriteOthers is
// off → kept. A zero for a data element that stores no zeros
// (DataElement.StoresZero) stands for "no value": unchanged when DHIS2
// holds nothing, otherwise the stored value is stale.
//
// A stored value is stale when the mediator produces no value for its cell
// any more (a mapping removed, a contact moved to another org unit) or a
// zero that DHIS2 does not store. An owned stale value is deleted
// (DeleteStale) or kept; another user's stale value is never touched, and
// only listed when a zero would have replaced it. Cells produced but not
// valid are left alone: a value that failed a check is not "no longer
// produced".
func Compare(md Metadata, produced, valid []Value, stored []Stored, opts DiffOptions) Diff {
	def := md.DefaultCategoryOptionCombo
	key := func(de, pe, ou, coc, aoc string) valueKey {
		return valueKey{de, pe, ou, cmp.Or(coc, def), cmp.Or(aoc, def)}
	}
	owned := func(by string) bool {
		return slices.ContainsFunc(opts.Owners, func(o string) bool { return o != "" && strings.EqualFold(o, by) })
	}
	held := make(map[valueKey]*Stored, len(stored))
	for i := range stored {
		s := &stored[i]
		held[key(s.DataElement, s.Period, s.OrgUnit, s.CategoryOptionCombo, s.AttributeOptionCombo)] = s
	}
	producedKeys := make(map[valueKey]bool, len(produced))
	for _, v := range produced {
		producedKeys[key(v.DataElement, v.Period, v.OrgUnit, v.CategoryOptionCombo, v.AttributeOptionCombo)] = true
	}

	var d Diff
	change := func(kind string, v Value, s *Stored, reason string) Change {
		c := Change{Kind: kind, DataElement: v.DataElement, Period: v.Period, OrgUnit: v.OrgUnit,
			CategoryOptionCombo: v.CategoryOptionCombo, AttributeOptionCombo: v.AttributeOptionCombo, Reason: reason}
		if kind != ChangeDelete {
			c.New = v.Value
		}
		// The default combo reads as none, however it was written.
		if c.CategoryOptionCombo == def {
			c.CategoryOptionCombo = ""
		}
		if c.AttributeOptionCombo == def {
			c.AttributeOptionCombo = ""
		}
		if s != nil {
			c.Old = s.Value
			if !owned(s.StoredBy) {
				c.StoredBy = s.StoredBy
			}
		}
		return c
	}
	// stale handles a stored value replaced by cur ("0", or "" when the
	// cell is no longer produced).
	stale := func(s *Stored, cur, reason string) {
		v := Value{DataElement: s.DataElement, Period: s.Period, OrgUnit: s.OrgUnit,
			CategoryOptionCombo: s.CategoryOptionCombo, AttributeOptionCombo: s.AttributeOptionCombo, Value: cur}
		switch {
		case !owned(s.StoredBy):
			d.Kept++
			d.Changes = append(d.Changes, change(ChangeKept, v, s, reason+"; stored by "+s.StoredBy+", so never deleted"))
		case opts.DeleteStale:
			d.Deleted++
			v.Value = s.Value
			d.Delete = append(d.Delete, v)
			d.Changes = append(d.Changes, change(ChangeDelete, v, s, reason))
		default:
			d.Kept++
			d.Changes = append(d.Changes, change(ChangeKept, v, s, reason+"; deleting stale values is switched off"))
		}
	}

	used := make(map[valueKey]bool, len(valid))
	for _, v := range valid {
		k := key(v.DataElement, v.Period, v.OrgUnit, v.CategoryOptionCombo, v.AttributeOptionCombo)
		used[k] = true
		s := held[k]
		de := md.DataElements[v.DataElement]
		if IsZero(v.Value) && !de.StoresZero() {
			if s == nil {
				d.Unchanged++
				continue
			}
			stale(s, v.Value, "the total is now zero, which DHIS2 does not store for this data element")
			continue
		}
		switch {
		case s == nil:
			d.New++
			d.Send = append(d.Send, v)
			d.Changes = append(d.Changes, change(ChangeNew, v, nil, ""))
		case sameValue(s.Value, v.Value):
			d.Unchanged++
		case owned(s.StoredBy) || opts.OverwriteOthers:
			d.Changed++
			d.Send = append(d.Send, v)
			d.Changes = append(d.Changes, change(ChangeChanged, v, s, ""))
		default:
			d.Kept++
			d.Changes = append(d.Changes, change(ChangeKept, v, s, "stored by "+s.StoredBy+"; overwriting values of other users is switched off"))
		}
	}
	// Stored values whose cell is no longer produced at all.
	keys := make([]valueKey, 0, len(held))
	for k := range held {
		if !used[k] && !producedKeys[k] {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, compareKeys)
	for _, k := range keys {
		if s := held[k]; owned(s.StoredBy) {
			stale(s, "", "the mediator no longer produces this value (mapping removed, or the contact moved to another org unit)")
		}
	}
	slices.SortStableFunc(d.Changes, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.OrgUnit, b.OrgUnit), cmp.Compare(a.DataElement, b.DataElement),
			cmp.Compare(cmp.Or(a.CategoryOptionCombo, def), cmp.Or(b.CategoryOptionCombo, def)),
			cmp.Compare(cmp.Or(a.AttributeOptionCombo, def), cmp.Or(b.AttributeOptionCombo, def)))
	})
	return d
}

func compareKeys(a, b valueKey) int {
	return cmp.Or(cmp.Compare(a.ou, b.ou), cmp.Compare(a.de, b.de), cmp.Compare(a.coc, b.coc), cmp.Compare(a.aoc, b.aoc), cmp.Compare(a.pe, b.pe))
}

// sameValue reports whether DHIS2's stored value equals a produced one:
// the same text, or the same number.
func sameValue(old, cur string) bool {
	old, cur = strings.TrimSpace(old), strings.TrimSpace(cur)
	if old == cur {
		return true
	}
	a, err1 := strconv.ParseFloat(old, 64)
	b, err2 := strconv.ParseFloat(cur, 64)
	return err1 == nil && err2 == nil && a == b
}
