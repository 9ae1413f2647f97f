package sandbox

import (
	"cmp"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var reDuration = regexp.MustCompile(`^(\d+)([smhd])$`)

// pullError is a 409 WebMessage with an E20xx code (DHIS2 Web API docs, reading data values).
func pullError(w http.ResponseWriter, code, message string) {
	writeJSON(w, http.StatusConflict, webMessage(http.StatusConflict, "ERROR", message).set("errorCode", code))
}

// getDataValueSets handles GET /api/dataValueSets (DHIS2 Web API docs, reading data values), JSON only.
func (s *Server) getDataValueSets(w http.ResponseWriter, r *request) {
	q := r.URL.Query()
	x := s.x
	inScheme := parseIDScheme(cmp.Or(q.Get("inputIdScheme"), "UID"))
	dsScheme := parseIDScheme(cmp.Or(q.Get("inputDataSetIdScheme"), q.Get("inputIdScheme"), "UID"))
	ouScheme := parseIDScheme(cmp.Or(q.Get("inputOrgUnitIdScheme"), q.Get("inputIdScheme"), "UID"))

	// Unknown identifiers are dropped, as DHIS2 does when it builds the
	// export parameters; what is left must satisfy the checks below.
	var dataSets []*DataSet
	for _, id := range q["dataSet"] {
		if ds := lookup(x.ds, x.dsIx, dsScheme, id); ds != nil && !slices.Contains(dataSets, ds) {
			dataSets = append(dataSets, ds)
		}
	}
	var dataElements []*DataElement
	if s.v.minor >= 41 {
		for _, id := range q["dataElement"] {
			if de := lookup(x.de, x.deIx, inScheme, id); de != nil {
				dataElements = append(dataElements, de)
			}
		}
	}
	var periods []Period
	for _, p := range q["period"] {
		if pe, ok := ParsePeriod(p, s.v.minor); ok {
			periods = append(periods, pe)
		}
	}
	var orgUnits []*OrganisationUnit
	for _, id := range q["orgUnit"] {
		if ou := lookup(x.ou, x.ouIx, ouScheme, id); ou != nil {
			orgUnits = append(orgUnits, ou)
		}
	}
	startDate, endDate := q.Get("startDate"), q.Get("endDate")
	lastUpdated, duration := q.Get("lastUpdated"), q.Get("lastUpdatedDuration")
	children := queryBool(q, "children")
	hasGroups := len(q["dataElementGroup"]) > 0
	hasOUGroups := len(q["orgUnitGroup"]) > 0

	switch {
	case len(dataSets) == 0 && len(dataElements) == 0 && !hasGroups:
		pullError(w, "E2001", "At least one data element, data set or data element group must be specified")
	case len(periods) == 0 && (startDate == "" || endDate == "") && lastUpdated == "" && duration == "":
		pullError(w, "E2002", "At least one period, start/end dates, last updated or last updated duration must be specified")
	case len(periods) > 0 && (startDate != "" || endDate != ""):
		pullError(w, "E2003", "Both periods and start/end date cannot be specified")
	case startDate != "" && endDate != "" && parseDay(startDate).After(parseDay(endDate)):
		pullError(w, "E2004", "Start date must be before end date")
	case duration != "" && !reDuration.MatchString(duration):
		pullError(w, "E2005", "Duration is not valid: `"+duration+"`")
	case len(orgUnits) == 0 && !hasOUGroups:
		pullError(w, "E2006", "At least one organisation unit or organisation unit group must be specified")
	case children && hasOUGroups && len(orgUnits) == 0:
		pullError(w, "E2007", "Organisation unit children cannot be included for organisation unit groups")
	case q.Get("limit") != "" && atoiDefault(q.Get("limit"), 0) < 0:
		pullError(w, "E2009", "Limit cannot be less than zero: `"+q.Get("limit")+"`")
	default:
		for _, ou := range orgUnits {
			if !x.inHierarchy(ou.ID, s.user.OrgUnits) {
				pullError(w, "E2012", "User is not allowed to view org unit: `"+ou.ID+"`")
				return
			}
		}
		s.writeDataValueSet(w, r, dataSets, dataElements, periods, orgUnits)
	}
}

func (s *Server) writeDataValueSet(w http.ResponseWriter, r *request, dataSets []*DataSet, dataElements []*DataElement,
	periods []Period, orgUnits []*OrganisationUnit) {
	q := r.URL.Query()
	x := s.x
	des := map[string]bool{}
	for _, ds := range dataSets {
		for id := range x.deInDS[ds.ID] {
			des[id] = true
		}
	}
	for _, de := range dataElements {
		des[de.ID] = true
	}
	pes := map[string]bool{}
	for _, p := range periods {
		pes[p.ISO] = true
	}
	children := queryBool(q, "children")
	ous := map[string]bool{}
	for _, ou := range orgUnits {
		ous[ou.ID] = true
		if children {
			for _, o := range x.ouIx {
				if strings.HasPrefix(o.Path, ou.Path+"/") {
					ous[o.ID] = true
				}
			}
		}
	}
	start, end := parseDay(q.Get("startDate")), parseDay(q.Get("endDate"))
	var since time.Time
	if lu := q.Get("lastUpdated"); lu != "" {
		since = parseTimestamp(lu)
	}
	if m := reDuration.FindStringSubmatch(q.Get("lastUpdatedDuration")); m != nil {
		n, _ := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]
		if t := s.now().Add(-time.Duration(n) * unit); t.After(since) {
			since = t
		}
	}
	aocs := q["attributeOptionCombo"]
	includeDeleted := queryBool(q, "includeDeleted")
	limit := atoiDefault(q.Get("limit"), -1)

	out := obj{}
	single := len(dataSets) == 1 && len(periods) == 1 && len(orgUnits) == 1
	scheme := func(specific string) idScheme {
		return parseIDScheme(cmp.Or(q.Get(specific), q.Get("idScheme"), "UID"))
	}
	deScheme, ouScheme := scheme("dataElementIdScheme"), scheme("orgUnitIdScheme")
	cocScheme, aocScheme, dsScheme := scheme("categoryOptionComboIdScheme"), scheme("attributeOptionComboIdScheme"), scheme("dataSetIdScheme")

	s.mu.Lock()
	defer s.mu.Unlock()
	if single {
		out = out.set("dataSet", identify(dataSets[0], dataSets[0].ID, dsScheme))
		reg := s.registrations[dataSets[0].ID+"/"+periods[0].ISO+"/"+orgUnits[0].ID+"/"+x.defaultCOC]
		if reg != nil {
			out = out.set("completeDate", reg.CompleteDate.UTC().Format(layoutData))
		}
		out = out.set("period", periods[0].ISO).set("orgUnit", identify(orgUnits[0], orgUnits[0].ID, ouScheme))
	}
	type row struct {
		v  *DataValue
		pe Period
	}
	var rows []row
	for _, v := range s.values {
		if !des[v.DataElement] || !ous[v.OrgUnit] || (v.Deleted && !includeDeleted) {
			continue
		}
		pe, ok := ParsePeriod(v.Period, maxMinor)
		if !ok {
			continue
		}
		if len(periods) > 0 && !pes[v.Period] {
			continue
		}
		if !start.IsZero() && (pe.Start.Before(start) || pe.End.After(end)) {
			continue
		}
		if !since.IsZero() && v.LastUpdated.Before(since) {
			continue
		}
		if len(aocs) > 0 && !slices.Contains(aocs, v.AttributeOptionCombo) {
			continue
		}
		rows = append(rows, row{v, pe})
	}
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(a.pe.Start.Compare(b.pe.Start), cmp.Compare(a.pe.Type, b.pe.Type), cmp.Compare(a.v.OrgUnit, b.v.OrgUnit),
			cmp.Compare(a.v.DataElement, b.v.DataElement), cmp.Compare(a.v.CategoryOptionCombo, b.v.CategoryOptionCombo),
			cmp.Compare(a.v.AttributeOptionCombo, b.v.AttributeOptionCombo))
	})
	if limit >= 0 && len(rows) > limit {
		rows = rows[:limit]
	}
	list := make([]obj, 0, len(rows))
	for _, rw := range rows {
		v := rw.v
		o := obj{
			{"dataElement", identify(x.de[v.DataElement], v.DataElement, deScheme)},
			{"period", v.Period},
			{"orgUnit", identify(x.ou[v.OrgUnit], v.OrgUnit, ouScheme)},
			{"categoryOptionCombo", identify(x.coc[v.CategoryOptionCombo], v.CategoryOptionCombo, cocScheme)},
			{"attributeOptionCombo", identify(x.coc[v.AttributeOptionCombo], v.AttributeOptionCombo, aocScheme)},
			{"value", v.Value},
			{"storedBy", v.StoredBy},
			{"created", v.Created.UTC().Format(layoutData)},
			{"lastUpdated", v.LastUpdated.UTC().Format(layoutData)},
		}
		if v.Comment != "" {
			o = o.set("comment", v.Comment)
		}
		o = o.set("followup", v.FollowUp)
		if v.Deleted {
			o = o.set("deleted", true)
		}
		list = append(list, o)
	}
	writeJSON(w, http.StatusOK, out.set("dataValues", list))
}
