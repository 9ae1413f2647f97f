package sandbox

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// entry is a decoded value of the 2.43 data entry pipeline.
type entry struct {
	index             int
	de, ou, coc, aoc  string // uids; coc and aoc "" when not given
	pe                Period
	value, comment    *string
	followup, deleted bool
	storedBy          string
}

// entryError is a value-level error of the 2.43 pipeline.
type entryError struct {
	index int
	code  string
	args  []string
}

// groupConflict aborts a whole group (a ConflictException in DHIS2).
type groupConflict struct {
	code string
	args []string
}

func itoa(i int) string { return strconv.Itoa(i) }

// importEntries imports a data value set the way the 2.43 data entry
// pipeline does (dhis2-core 2.43 DataEntryPipeline): decode everything first (one bad id fails the
// whole input), split into groups per data set, check each group as a
// whole, then validate and upsert the values.
func (s *Server) importEntries(set *dataValueSet, o importOptions) *summary {
	x := s.x
	now := s.now().UTC()
	sum := newSummary(s.v)
	fail := func(code string, args ...string) *summary {
		sum.status = statusError
		sum.addConflict(newEntryConflict([]int{-1}, code, args...))
		return sum
	}

	dsID := ""
	if set.DataSet != "" {
		if sch := o.scheme(o.dsScheme); sch != schemeUID {
			ds := lookup(x.ds, x.dsIx, sch, set.DataSet)
			if ds == nil {
				return fail("E8005", set.DataSet)
			}
			dsID = ds.ID
		} else if !reUID.MatchString(set.DataSet) {
			return fail("E8004", set.DataSet)
		} else {
			dsID = set.DataSet
		}
	}
	var groupPE *Period
	if set.Period != "" {
		p, ok := ParsePeriod(set.Period, s.v.minor)
		if !ok {
			return fail("E7611", set.Period)
		}
		groupPE = &p
	}
	if set.CompleteDate != "" && (dsID == "" || set.OrgUnit == "" || set.Period == "" || set.AttributeOptionCombo == "") {
		return fail("E8009")
	}

	decode := func(raw string, scheme idScheme, resolve func(string) string, notFound, notUID string, i int) (string, *summary) {
		if scheme != schemeUID {
			id := resolve(raw)
			if id == "" {
				return "", fail(notFound, itoa(i), raw)
			}
			return id, nil
		}
		if !reUID.MatchString(raw) {
			return "", fail(notUID, itoa(i), raw)
		}
		return raw, nil
	}
	deOf := func(k string) string {
		if de := lookup(x.de, x.deIx, o.scheme(o.deScheme), k); de != nil {
			return de.ID
		}
		return ""
	}
	ouOf := func(k string) string {
		if ou := lookup(x.ou, x.ouIx, o.scheme(o.ouScheme), k); ou != nil {
			return ou.ID
		}
		return ""
	}
	cocOf := func(k string) string {
		if c := lookup(x.coc, x.cocIx, o.scheme(o.cocScheme), k); c != nil {
			return c.ID
		}
		return ""
	}
	var entries []entry
	for i, dv := range set.DataValues {
		e := entry{index: i, value: dv.Value, comment: dv.Comment, followup: dv.Followup,
			deleted: dv.Deleted || o.strategy == "DELETE", storedBy: dv.StoredBy}
		switch {
		case dv.Period != "":
			p, ok := ParsePeriod(dv.Period, s.v.minor)
			if !ok {
				return fail("E7611", dv.Period)
			}
			e.pe = p
		case groupPE != nil:
			e.pe = *groupPE
		default:
			return fail("E8100", itoa(i))
		}
		if dv.DataElement == "" {
			return fail("E8102", itoa(i))
		}
		var bad *summary
		if e.de, bad = decode(dv.DataElement, o.scheme(o.deScheme), deOf, "E8103", "E8104", i); bad != nil {
			return bad
		}
		ouRaw := dv.OrgUnit
		if ouRaw == "" {
			ouRaw = set.OrgUnit
		}
		if ouRaw == "" {
			return fail("E8105", itoa(i))
		}
		if e.ou, bad = decode(ouRaw, o.scheme(o.ouScheme), ouOf, "E8107", "E8106", i); bad != nil {
			return bad
		}
		if dv.CategoryOptionCombo != "" {
			if e.coc, bad = decode(dv.CategoryOptionCombo, o.scheme(o.cocScheme), cocOf, "E8108", "E8109", i); bad != nil {
				return bad
			}
		}
		aocRaw := dv.AttributeOptionCombo
		if aocRaw == "" {
			aocRaw = set.AttributeOptionCombo
		}
		if aocRaw != "" {
			if e.aoc, bad = decode(aocRaw, o.scheme(o.cocScheme), cocOf, "E8110", "E8111", i); bad != nil {
				return bad
			}
		}
		entries = append(entries, e)
	}

	// Split into one group per data set.
	type group struct {
		ds      string
		entries []entry
	}
	var groups []*group
	if dsID != "" {
		groups = []*group{{ds: dsID, entries: entries}}
	} else {
		var noDS []string
		byDS := map[string]*group{}
		for _, e := range entries {
			dss := x.dataSetsOfDE[e.de]
			if len(dss) == 0 {
				if !slices.Contains(noDS, e.de) {
					noDS = append(noDS, e.de)
				}
				continue
			}
			g := byDS[dss[0].ID]
			if g == nil {
				g = &group{ds: dss[0].ID}
				byDS[g.ds] = g
				groups = append(groups, g)
			}
			g.entries = append(g.entries, e)
		}
		if len(noDS) > 0 {
			return fail("E8003", javaList(noDS))
		}
	}

	sum.importOptions = o.json()
	var succeeded, attempted int
	var errs []entryError
	var conflicts []*conflict
	allStored := true
	for _, g := range groups {
		gc, valid, gerrs := s.checkGroup(g.ds, g.entries, o, now)
		if gc == nil && o.atomic && len(gerrs) > 0 {
			if len(g.entries) == 1 && len(gerrs) == 1 {
				gc = &groupConflict{gerrs[0].code, gerrs[0].args}
			} else {
				gc = &groupConflict{"E8000", []string{itoa(len(valid)), itoa(len(g.entries)), format(entryMessages[gerrs[0].code], gerrs[0].args)}}
			}
		}
		if gc != nil {
			var idx []int
			for _, e := range g.entries {
				idx = append(idx, e.index)
			}
			conflicts = append(conflicts, newEntryConflict(idx, gc.code, gc.args...))
			allStored = false
			if o.atomic {
				break
			}
			continue
		}
		n := len(valid)
		if !o.dryRun {
			n = s.upsert(valid, now)
		}
		attempted += len(valid)
		succeeded += n
		errs = append(errs, gerrs...)
		if len(gerrs) > 0 || n < len(valid) {
			allStored = false
		}
	}

	sum.updated = succeeded
	sum.ignored = attempted - succeeded + len(errs)
	for _, e := range errs {
		sum.reject(e.index)
		sum.addConflict(newEntryConflict([]int{e.index}, e.code, e.args...))
	}
	if len(errs) > 0 {
		sum.status = statusError
		if succeeded > 0 {
			sum.status = statusWarning
		}
	}
	if o.strategy == "DELETE" {
		sum.deleted, sum.updated = sum.updated, 0
	}
	for _, c := range conflicts {
		sum.status = statusError
		sum.addConflict(c)
		for _, i := range c.indexes {
			sum.reject(i)
		}
	}
	if set.CompleteDate != "" {
		sum.dataSetComplete = "false"
		if cd := parseDay(set.CompleteDate); !cd.IsZero() && allStored && len(groups) == 1 {
			sum.dataSetComplete = cd.Format("2006-01-02")
			if !o.dryRun {
				s.complete(dsID, entries[0].pe.ISO, entries[0].ou, entries[0].aoc, cd)
			}
		}
	}
	return sum
}

// checkGroup runs the group-level checks of DefaultDataEntryService
// (access, key consistency, timeliness) and then validates each value.
func (s *Server) checkGroup(dsID string, entries []entry, o importOptions, now time.Time) (*groupConflict, []entry, []entryError) {
	x := s.x
	if len(entries) == 0 {
		return nil, nil, nil
	}
	ds := x.ds[dsID]
	def := x.defaultCOC
	distinct := func(pick func(entry) (string, bool)) []string {
		var out []string
		for _, e := range entries {
			if v, ok := pick(e); ok && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		return out
	}
	orDefault := func(id string) string {
		if id == "" {
			return def
		}
		return id
	}
	if !s.user.superuser() {
		if l := distinct(func(e entry) (string, bool) { return e.ou, !x.inHierarchy(e.ou, s.user.OrgUnits) }); l != nil {
			return &groupConflict{"E8011", []string{javaList(l)}}, nil, nil
		}
	}
	if l := distinct(func(e entry) (string, bool) { return e.de, ds == nil || !x.deInDS[dsID][e.de] }); l != nil {
		return &groupConflict{"E8020", []string{dsID, javaList(l)}}, nil, nil
	}
	if l := distinct(func(e entry) (string, bool) { return e.ou, !x.ouInDS[dsID][e.ou] }); l != nil {
		return &groupConflict{"E8022", []string{dsID, javaList(l)}}, nil, nil
	}
	if l := distinct(func(e entry) (string, bool) { return e.pe.ISO, e.pe.Type != ds.PeriodType }); l != nil {
		return &groupConflict{"E8021", []string{dsID, javaList(l)}}, nil, nil
	}
	if l := distinct(func(e entry) (string, bool) {
		aoc := orDefault(e.aoc)
		return aoc, !x.cocInCombo(aoc, ds.CategoryCombo.ID)
	}); l != nil {
		return &groupConflict{"E8023", []string{dsID, javaList(l)}}, nil, nil
	}
	for _, de := range distinct(func(e entry) (string, bool) { return e.de, true }) {
		combo := x.dseCombo[dsID+"/"+de]
		if l := distinct(func(e entry) (string, bool) {
			coc := orDefault(e.coc)
			return coc, e.de == de && !x.cocInCombo(coc, combo)
		}); l != nil {
			return &groupConflict{"E8024", []string{dsID, de, javaList(l)}}, nil, nil
		}
	}
	seen := map[valueKey][]int{}
	var firstDup valueKey
	dupAt := -1
	for _, e := range entries {
		k := valueKey{e.de, e.pe.ISO, e.ou, orDefault(e.coc), orDefault(e.aoc)}
		seen[k] = append(seen[k], e.index)
		if len(seen[k]) == 2 && (dupAt < 0 || seen[k][0] < dupAt) {
			firstDup, dupAt = k, seen[k][0]
		}
	}
	if dupAt >= 0 {
		var idx []string
		for _, i := range seen[firstDup] {
			idx = append(idx, itoa(i))
		}
		key := fmt.Sprintf("dataElement=%s, orgUnit=%s, categoryOptionCombo=%s, attributeOptionCombo=%s, period=%s",
			firstDup.de, firstDup.ou, firstDup.coc, firstDup.aoc, firstDup.pe)
		return &groupConflict{"E8128", []string{javaList(idx), key}}, nil, nil
	}
	for _, e := range entries {
		ou := x.ou[e.ou]
		open, closed := parseDay(ou.OpeningDate), parseDay(ou.ClosedDate)
		if (!open.IsZero() && e.pe.Start.Before(open)) || (!closed.IsZero() && e.pe.Start.After(closed)) {
			periods := distinct(func(f entry) (string, bool) {
				return f.pe.ISO, f.ou == e.ou && ((!open.IsZero() && f.pe.Start.Before(open)) || (!closed.IsZero() && f.pe.Start.After(closed)))
			})
			return &groupConflict{"E8031", []string{e.ou, javaList(periods)}}, nil, nil
		}
	}

	if !(o.force && s.user.superuser()) {
		if len(ds.DataInputPeriods) == 0 {
			if !s.user.authorized("F_EDIT_EXPIRED") {
				if ds.ExpiryDays > 0 {
					if l := distinct(func(e entry) (string, bool) {
						return e.pe.ISO, now.After(e.pe.End.AddDate(0, 0, ds.ExpiryDays+1)) && !s.lockException(ds.ID, e.pe.ISO, e.ou)
					}); l != nil {
						return &groupConflict{"E8030", []string{dsID, javaList(l)}}, nil, nil
					}
				}
				latest, _ := latestOpenFuturePeriod(entries[0].pe.Type, now, ds.OpenFuturePeriods)
				if l := distinct(func(e entry) (string, bool) { return e.pe.ISO, e.pe.isAfter(latest) }); l != nil {
					return &groupConflict{"E8030", []string{dsID, javaList(l)}}, nil, nil
				}
			}
		} else if l := distinct(func(e entry) (string, bool) { return e.pe.ISO, !inputAllowed(ds, &e.pe, now) }); l != nil {
			return &groupConflict{"E8030", []string{dsID, javaList(l)}}, nil, nil
		}
		if ds.Workflow != nil {
			for _, e := range entries {
				aoc := orDefault(e.aoc)
				if s.approvals[approvalKey(ds.Workflow.ID, e.pe.ISO, e.ou, aoc)] {
					periods := distinct(func(f entry) (string, bool) {
						return f.pe.ISO, f.ou == e.ou && orDefault(f.aoc) == aoc && s.approvals[approvalKey(ds.Workflow.ID, f.pe.ISO, f.ou, aoc)]
					})
					return &groupConflict{"E8033", []string{aoc, e.ou, javaList(periods)}}, nil, nil
				}
			}
		}
	}

	allDeleted := true
	for _, e := range entries {
		allDeleted = allDeleted && e.deleted
	}
	if allDeleted {
		return nil, entries, nil
	}
	var valid []entry
	var errs []entryError
	for _, e := range entries {
		de := x.de[e.de]
		val := ""
		if e.value != nil {
			val = normalizeBoolean43(*e.value, de.ValueType)
		}
		empty := val == ""
		if empty && !e.deleted {
			errs = append(errs, entryError{e.index, "E8120", []string{itoa(e.index)}})
			continue
		}
		if !empty {
			if key := valueError(val, de.ValueType); key != "" {
				errs = append(errs, entryError{e.index, "E8122", []string{itoa(e.index), val, de.ValueType, key}})
				continue
			}
			if codes := x.options[de.ID]; codes != nil {
				bad := ""
				for _, c := range strings.Split(val, ",") {
					if !codes[c] && bad == "" {
						bad = c
					}
				}
				if de.ValueType != "MULTI_TEXT" && !codes[val] {
					bad = val
				}
				if bad != "" {
					errs = append(errs, entryError{e.index, "E8123", []string{itoa(e.index), bad, de.ID}})
					continue
				}
			}
		}
		if e.comment != nil && len([]rune(*e.comment)) > 5000 {
			errs = append(errs, entryError{e.index, "E8125", []string{itoa(e.index), "5000"}})
			continue
		}
		if e.value != nil {
			v := val
			e.value = &v
		}
		valid = append(valid, e)
	}
	return nil, valid, errs
}

// normalizeBoolean43 is the 2.43 boolean normalisation (DefaultDataEntryService.normalizeValue).
func normalizeBoolean43(val, valueType string) string {
	if valueType != "BOOLEAN" && valueType != "TRUE_ONLY" || len(val) > 5 {
		return val
	}
	switch strings.ToLower(val) {
	case "f", "n", "0", "no", "false":
		return "false"
	case "t", "y", "1", "yes", "true":
		return "true"
	}
	return val
}

// upsert writes valid entries and returns how many rows changed. Every
// write counts, unchanged values included; a delete of a missing value and
// an insignificant zero for a missing value change nothing.
func (s *Server) upsert(entries []entry, now time.Time) int {
	x := s.x
	n := 0
	for _, e := range entries {
		k := valueKey{e.de, e.pe.ISO, e.ou, cmpOr(e.coc, x.defaultCOC), cmpOr(e.aoc, x.defaultCOC)}
		existing := s.values[k]
		live := existing != nil && !existing.Deleted
		val := ""
		if e.value != nil {
			val = *e.value
		}
		if e.deleted || isZeroAndInsignificant(val, x.de[e.de]) {
			if live {
				existing.Deleted, existing.LastUpdated = true, now
				n++
			}
			continue
		}
		storedBy := strings.TrimSpace(e.storedBy)
		if storedBy == "" {
			storedBy = s.user.Username
		}
		comment := ""
		if e.comment != nil {
			comment = *e.comment
		}
		v := existing
		if v == nil {
			v = &DataValue{DataElement: k.de, Period: k.pe, OrgUnit: k.ou, CategoryOptionCombo: k.coc,
				AttributeOptionCombo: k.aoc, Created: now}
			s.values[k] = v
		}
		v.Value, v.Comment, v.FollowUp, v.StoredBy, v.LastUpdated, v.Deleted = val, comment, e.followup, storedBy, now, false
		n++
	}
	return n
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
