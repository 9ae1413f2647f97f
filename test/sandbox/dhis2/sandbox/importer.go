package sandbox

import (
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

// postDataValueSets handles POST /api/dataValueSets (DHIS2 Web API docs, data values; DHIS2 Web API docs, asynchronous data value import).
func (s *Server) postDataValueSets(w http.ResponseWriter, r *request) {
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
		if ct == "" {
			ct = "application/octet-stream"
		}
		writeJSON(w, http.StatusUnsupportedMediaType, webMessage(http.StatusUnsupportedMediaType, "ERROR",
			"Content type '"+ct+"' not supported"))
		return
	}
	opts, err := parseImportOptions(r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, webMessage(http.StatusBadRequest, "ERROR", err.Error()))
		return
	}
	if opts.async {
		s.startJob(w, r, opts)
		return
	}
	s.mu.Lock()
	sum := s.importBody(r.body, opts)
	s.mu.Unlock()
	s.writeSummary(w, r, sum)
}

func (s *Server) writeSummary(w http.ResponseWriter, r *request, sum *summary) {
	if s.v.wrapImportSummary(r.apiVersion) {
		code, body := importWebMessage(sum)
		writeJSON(w, code, body)
		return
	}
	writeJSON(w, http.StatusOK, sum.json())
}

// importBody decodes and imports a body. The caller holds s.mu.
func (s *Server) importBody(body []byte, opts importOptions) *summary {
	set, err := decodeDataValueSet(body)
	if err == nil {
		opts, err = opts.withPayload(set)
	}
	if err != nil {
		sum := newSummary(s.v)
		sum.status = statusError
		sum.description = "The import process failed: " + err.Error()
		return sum
	}
	if s.v.newImporter() {
		return s.importEntries(set, opts)
	}
	return s.importSet(set, opts)
}

// importer is the state of one 2.36–2.42 import (DefaultDataValueSetService).
type importer struct {
	s       *Server
	sum     *summary
	opts    importOptions
	now     time.Time
	ds      *DataSet
	outerPE *Period
	outerOU *OrganisationUnit
	outerAO *CategoryOptionCombo
	staged  []*conflict
	staging bool
}

func (im *importer) conflict(index int, code, raw string, args ...string) {
	c := newConflict(im.s.v, index, code, raw, im.s.user.Username, args...)
	if im.staging {
		im.staged = append(im.staged, c)
		return
	}
	im.sum.addConflict(c)
}

// importSet imports a data value set the way 2.36–2.42 do: data set level
// checks that abort, then value by value in one pass (dhis2-core DataValueSetController and WebMessageUtils; dhis2-core DefaultDataValueSetService).
func (s *Server) importSet(set *dataValueSet, opts importOptions) *summary {
	im := &importer{s: s, sum: newSummary(s.v), opts: opts, now: s.now().UTC()}
	sum := im.sum
	sum.importOptions = opts.json()
	x := s.x

	if set.DataSet != "" {
		im.ds = lookup(x.ds, x.dsIx, opts.scheme(opts.dsScheme), set.DataSet)
	}
	if set.OrgUnit != "" {
		im.outerOU = lookup(x.ou, x.ouIx, opts.scheme(opts.ouScheme), set.OrgUnit)
	}
	if p, ok := ParsePeriod(set.Period, s.v.minor); ok {
		im.outerPE = &p // an invalid outer period is silently ignored
	}
	cocScheme := opts.scheme(opts.cocScheme)
	if set.AttributeOptionCombo != "" {
		im.outerAO = lookup(x.coc, x.cocIx, cocScheme, set.AttributeOptionCombo)
	} else if len(set.AttributeCategoryOptions) > 0 && im.ds != nil {
		im.outerAO = s.aocFromOptions(im.ds, set.AttributeCategoryOptions)
	}

	// Data set level validation: any problem aborts the import (E7600–E7604).
	abort := false
	if set.DataSet != "" && im.ds == nil {
		im.conflict(-1, "E7600", set.DataSet, set.DataSet)
		abort = true
	}
	if set.OrgUnit != "" && im.outerOU == nil {
		im.conflict(-1, "E7603", set.OrgUnit, set.OrgUnit, set.DataSet)
		abort = true
	}
	if (set.AttributeOptionCombo != "" || len(set.AttributeCategoryOptions) > 0) && im.outerAO == nil {
		aoc := set.AttributeOptionCombo
		if aoc == "" {
			aoc = javaList(set.AttributeCategoryOptions)
		}
		im.conflict(-1, "E7604", aoc, aoc, set.DataSet)
		abort = true
	}
	if abort {
		sum.status = statusError
		sum.description = "Import process was aborted"
		return sum
	}

	sum.dataSetComplete = "false"
	if cd := parseDay(set.CompleteDate); im.ds != nil && !cd.IsZero() {
		sum.dataSetComplete = cd.Format("2006-01-02")
		if im.outerPE != nil && im.outerOU != nil && !opts.dryRun {
			aoc := x.defaultCOC
			if im.outerAO != nil {
				aoc = im.outerAO.ID
			}
			s.complete(im.ds.ID, im.outerPE.ISO, im.outerOU.ID, aoc, cd)
		}
	}

	for i := range set.DataValues {
		im.importValue(i, &set.DataValues[i])
	}
	sum.description = "Import process completed successfully"
	if len(sum.conflicts) > 0 {
		sum.status = statusWarning
	}
	return sum
}

func (s *Server) complete(ds, pe, ou, aoc string, date time.Time) {
	k := ds + "/" + pe + "/" + ou + "/" + aoc
	s.registrations[k] = &Registration{DataSet: ds, Period: pe, OrgUnit: ou, AttributeOptionCombo: aoc,
		CompleteDate: date, StoredBy: s.user.Username, Completed: true}
}

// aocFromOptions resolves attributeCategoryOptions against the data set's
// category combo.
func (s *Server) aocFromOptions(ds *DataSet, options []string) *CategoryOptionCombo {
	want := slices.Clone(options)
	slices.Sort(want)
	for _, id := range s.x.cocsOf[ds.CategoryCombo.ID] {
		coc := s.x.coc[id]
		var got []string
		for _, r := range coc.CategoryOptions {
			got = append(got, r.ID)
		}
		slices.Sort(got)
		if slices.Equal(got, want) {
			return coc
		}
	}
	return nil
}

// targetDataSets are the data sets whose locking, approval and input
// periods apply to a value: the given one, or every data set with the data
// element, the org unit and the value's attribute combo (dhis2-core DataValueSetImportValidator).
func (im *importer) targetDataSets(de *DataElement, ou *OrganisationUnit, aoc *CategoryOptionCombo) []*DataSet {
	if im.ds != nil {
		return []*DataSet{im.ds}
	}
	var out []*DataSet
	for _, ds := range im.s.x.dataSetsOfDE[de.ID] {
		if im.s.x.ouInDS[ds.ID][ou.ID] && ds.CategoryCombo.ID == aoc.CategoryCombo.ID {
			out = append(out, ds)
		}
	}
	return out
}

// checkTargets runs check on the target data sets. Unless strict, the
// first data set that passes clears the value; otherwise the conflicts of
// every failing data set are kept.
func (im *importer) checkTargets(targets []*DataSet, strict bool, check func(ds *DataSet)) {
	if len(targets) == 0 {
		return
	}
	im.staging, im.staged = true, nil
	defer func() { im.staging, im.staged = false, nil }()
	for _, ds := range targets {
		before := len(im.staged)
		check(ds)
		if !strict && len(im.staged) == before {
			return
		}
	}
	for _, c := range im.staged {
		im.sum.addConflict(c)
	}
}

func (im *importer) occurrences() int {
	n := 0
	for _, c := range im.sum.conflicts {
		n += max(len(c.indexes), 1)
	}
	return n
}

// importValue validates and stores the value at index i
// (DataValueSetImportValidator.skipDataValue, then importDataValue).
func (im *importer) importValue(i int, dv *dataValueIn) {
	s, x, o := im.s, im.s.x, im.opts
	before := im.occurrences()
	rejected := func() bool {
		if im.occurrences() > before {
			im.sum.ignored++
			im.sum.reject(i)
			return true
		}
		return false
	}
	de := lookup(x.de, x.deIx, o.scheme(o.deScheme), dv.DataElement)
	if de == nil {
		im.conflict(i, "E7610", dv.DataElement, dv.DataElement)
		rejected()
		return
	}
	pe := im.outerPE
	if pe == nil {
		if p, ok := ParsePeriod(dv.Period, s.v.minor); ok {
			pe = &p
		} else {
			im.conflict(i, "E7611", dv.Period, dv.Period)
			rejected()
			return
		}
	}
	ou := im.outerOU
	if ou == nil {
		if ou = lookup(x.ou, x.ouIx, o.scheme(o.ouScheme), dv.OrgUnit); ou == nil {
			im.conflict(i, "E7612", dv.OrgUnit, dv.OrgUnit)
			rejected()
			return
		}
	}
	cocScheme := o.scheme(o.cocScheme)
	var coc *CategoryOptionCombo
	if dv.CategoryOptionCombo != "" {
		if coc = lookup(x.coc, x.cocIx, cocScheme, dv.CategoryOptionCombo); coc == nil {
			im.conflict(i, "E7613", dv.CategoryOptionCombo, dv.CategoryOptionCombo)
			rejected()
			return
		}
	}
	aoc := im.outerAO
	if aoc == nil && dv.AttributeOptionCombo != "" {
		if aoc = lookup(x.coc, x.cocIx, cocScheme, dv.AttributeOptionCombo); aoc == nil {
			im.conflict(i, "E7615", dv.AttributeOptionCombo, dv.AttributeOptionCombo)
			rejected()
			return
		}
	}
	if !x.inHierarchy(ou.ID, s.user.OrgUnits) {
		im.conflict(i, "E7617", ou.ID, ou.ID, s.user.ID)
		rejected()
		return
	}
	if dv.Value == nil && dv.Comment == nil && !dv.Deleted && o.strategy != "DELETE" {
		im.conflict(i, "E7618", "", de.ID)
		rejected()
		return
	}
	raw := ""
	if dv.Value != nil {
		raw = *dv.Value
	}
	value := normalizeBoolean(raw, de.ValueType)
	if key := valueError(value, de.ValueType); key != "" {
		im.conflict(i, "E7619", raw, de.ID, key)
		rejected()
		return
	}
	if dv.Comment != nil && len([]rune(*dv.Comment)) > maxCommentLength {
		im.conflict(i, "E7620", "", "comment_length_greater_than_max_length")
		rejected()
		return
	}
	if codes := x.options[de.ID]; codes != nil {
		ok := codes[value]
		if de.ValueType == "MULTI_TEXT" && s.v.minor >= 39 {
			ok = value != ""
			for _, c := range strings.Split(value, ",") {
				ok = ok && codes[c]
			}
		}
		if !ok {
			im.conflict(i, "E7621", raw, de.ID)
			rejected()
			return
		}
	}
	if coc == nil {
		if o.requireCOC {
			im.conflict(i, "E7630", raw)
			rejected()
			return
		}
		coc = x.coc[x.defaultCOC]
	}
	if aoc == nil {
		if o.requireAOC {
			im.conflict(i, "E7631", raw)
			rejected()
			return
		}
		aoc = x.coc[x.defaultCOC]
	}
	// Optional constraints (dhis2-core DataValueSetImportValidator): only with strict*/require* on.
	if o.strictPeriods {
		ok := false
		for _, ds := range x.dataSetsOfDE[de.ID] {
			ok = ok || ds.PeriodType == pe.Type
		}
		if !ok {
			im.conflict(i, "E7632", pe.ISO, pe.ISO, de.ID)
		}
	}
	if rejected() {
		return
	}
	if o.strictDataElements {
		dsID := ""
		if im.ds != nil {
			dsID = im.ds.ID
		}
		ok := false
		for _, ds := range im.targetDataSets(de, ou, aoc) {
			ok = ok || x.deInDS[ds.ID][de.ID]
		}
		if !ok {
			im.conflict(i, "E7633", "", de.ID, dsID)
		}
	}
	if rejected() {
		return
	}
	if o.strictCOC && !slices.Contains(s.cocsOfDataElement(de), coc.ID) {
		im.conflict(i, "E7634", coc.ID, coc.ID, de.ID)
	}
	if rejected() {
		return
	}
	if o.strictAOC {
		ok := false
		for _, ds := range x.dataSetsOfDE[de.ID] {
			ok = ok || x.cocInCombo(aoc.ID, ds.CategoryCombo.ID)
		}
		if !ok {
			im.conflict(i, "E7635", aoc.ID, aoc.ID, de.ID)
		}
	}
	if rejected() {
		return
	}
	if o.strictOrgUnits {
		ok := false
		for _, ds := range x.dataSetsOfOU[ou.ID] {
			ok = ok || x.deInDS[ds.ID][de.ID]
		}
		if !ok {
			im.conflict(i, "E7636", ou.ID, ou.ID, de.ID)
		}
	}
	if rejected() {
		return
	}
	if len([]rune(dv.StoredBy)) > maxStoredBy {
		im.conflict(i, "E7637", dv.StoredBy, "stored_by_length_greater_than_max_length")
	}
	if rejected() {
		return
	}
	// Locking, future periods, approval and input periods (dhis2-core DataValueSetImportValidator),
	// skipped with force=true for a superuser.
	if !(o.force && s.user.superuser()) {
		targets := im.targetDataSets(de, ou, aoc)
		im.checkTargets(targets, o.strictLocking, func(ds *DataSet) {
			if ds.ExpiryDays > 0 && !s.user.authorized("F_EDIT_EXPIRED") &&
				pe.End.AddDate(0, 0, ds.ExpiryDays).Before(im.now) && !s.lockException(ds.ID, pe.ISO, ou.ID) {
				im.conflict(i, "E7640", pe.ISO, pe.ISO, ds.ID)
			}
		})
		if rejected() {
			return
		}
		im.checkTargets(targets, true, func(ds *DataSet) {
			latest, ok := latestOpenFuturePeriod(ds.PeriodType, im.now, ds.OpenFuturePeriods)
			if ok && pe.isAfter(latest) {
				im.conflict(i, "E7641", pe.ISO, pe.ISO, de.ID, latest.ISO)
			}
		})
		if rejected() {
			return
		}
		im.checkTargets(targets, o.strictApproval, func(ds *DataSet) {
			if ds.Workflow != nil && s.approvals[approvalKey(ds.Workflow.ID, pe.ISO, ou.ID, aoc.ID)] {
				im.conflict(i, "E7642", ou.ID, ou.ID, pe.ISO, aoc.ID, ds.ID)
			}
		})
		if rejected() {
			return
		}
		im.checkTargets(targets, o.strictInputPeriods, func(ds *DataSet) {
			if !inputAllowed(ds, pe, im.now) {
				im.conflict(i, "E7643", pe.ISO, pe.ISO, ds.ID)
			}
		})
		if rejected() {
			return
		}
	}
	im.save(i, dv, de, pe, ou, coc, aoc, value)
}

// cocsOfDataElement are the option combos a data element may take: those
// of its own category combo and of any data set override.
func (s *Server) cocsOfDataElement(de *DataElement) []string {
	out := slices.Clone(s.x.cocsOf[de.CategoryCombo.ID])
	for _, ds := range s.x.dataSetsOfDE[de.ID] {
		out = append(out, s.x.cocsOf[s.x.dseCombo[ds.ID+"/"+de.ID]]...)
	}
	return out
}

// inputAllowed is DataSet.isDataInputPeriodAndDateAllowed: no data input
// periods means no restriction.
func inputAllowed(ds *DataSet, pe *Period, now time.Time) bool {
	if len(ds.DataInputPeriods) == 0 {
		return true
	}
	for _, p := range ds.DataInputPeriods {
		ip, ok := ParsePeriod(p.Period.ID, maxMinor)
		if !ok || ip.ISO != pe.ISO {
			continue
		}
		open, closing := parseDay(p.OpeningDate), parseDay(p.ClosingDate)
		if (open.IsZero() || !now.Before(open)) && (closing.IsZero() || now.Before(closing.AddDate(0, 0, 1))) {
			return true
		}
	}
	return false
}

// save applies a valid value (DefaultDataValueSetService.importDataValue
// and saveDataValueCreate/Update/Delete; dhis2-core DefaultDataValueSetService).
func (im *importer) save(i int, dv *dataValueIn, de *DataElement, pe *Period, ou *OrganisationUnit,
	coc, aoc *CategoryOptionCombo, value string) {
	s, sum, o := im.s, im.sum, im.opts
	k := valueKey{de.ID, pe.ISO, ou.ID, coc.ID, aoc.ID}
	var existing *DataValue
	if !o.skipExistingCheck {
		existing = s.values[k]
	}
	zero := isZeroAndInsignificant(value, de)
	if zero && (existing == nil || o.strategy == "CREATE") {
		return // skipped silently, and not counted (dhis2-core DefaultDataValueSetService)
	}
	value = strings.TrimSpace(value)
	comment := ""
	if dv.Comment != nil {
		comment = strings.TrimSpace(*dv.Comment)
	}
	isNull := value == "" && comment == ""
	storedBy := strings.TrimSpace(dv.StoredBy)
	if storedBy == "" {
		storedBy = s.user.Username
	}
	created := im.now
	if t := parseTimestamp(dv.Created); !t.IsZero() {
		created = t
	} else if existing != nil {
		created = existing.Created
	}
	write := func(v *DataValue) {
		if o.dryRun {
			return
		}
		v.Value, v.Comment, v.FollowUp, v.StoredBy = value, comment, dv.Followup, storedBy
		v.Created, v.LastUpdated, v.Deleted = created, im.now, false
		s.values[k] = v
	}

	if existing != nil && !existing.Deleted {
		switch o.strategy {
		case "CREATE_AND_UPDATE", "UPDATE":
			if isNull || dv.Deleted || zero {
				sum.deleted++
				if !o.dryRun {
					existing.Deleted, existing.LastUpdated = true, im.now
				}
				return
			}
			if existing.Value == value && existing.Comment == comment && existing.FollowUp == dv.Followup {
				if s.v.unchangedIsIgnored() {
					sum.ignored++
				} else {
					sum.updated++
				}
				return // no write: lastUpdated stays
			}
			sum.updated++
			write(existing)
		case "DELETE":
			sum.deleted++
			if !o.dryRun {
				existing.Deleted, existing.LastUpdated = true, im.now
			}
		default: // CREATE
			sum.ignored++
			sum.reject(i)
		}
		return
	}
	if o.strategy != "CREATE_AND_UPDATE" && o.strategy != "CREATE" {
		sum.ignored++
		sum.reject(i)
		return
	}
	if isNull || dv.Deleted {
		sum.ignored++ // nothing to create (a null value, or a delete of a missing value)
		return
	}
	if o.skipExistingCheck && s.values[k] != nil && !s.values[k].Deleted {
		return // the insert of an existing key fails; nothing is counted (dhis2-core ImportOptions.java)
	}
	sum.imported++
	if existing != nil {
		write(existing) // restores a soft-deleted value
		return
	}
	write(&DataValue{DataElement: de.ID, Period: pe.ISO, OrgUnit: ou.ID, CategoryOptionCombo: coc.ID, AttributeOptionCombo: aoc.ID})
}

// parseTimestamp parses the timestamps DHIS2 accepts for created and
// lastUpdated; the zero time when s is not one.
func parseTimestamp(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, l := range append([]string{layoutData}, dateTimeLayouts...) {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
