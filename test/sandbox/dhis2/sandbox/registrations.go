package sandbox

import (
	"cmp"
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Completeness registrations and lock exceptions, as dhis2-core does them:
//
//   - POST /api/completeDataSetRegistrations (CompleteDataSetRegistrationController,
//     DefaultCompleteDataSetRegistrationExchangeService in 2.36–2.43): a
//     JSON body {"completeDataSetRegistrations": [{dataSet, period,
//     organisationUnit, attributeOptionCombo, date, storedBy, completed}]}.
//     Each registration is checked (data set, period, org unit; an unknown
//     or absent attribute option combo falls back to the default; the org
//     unit must be in the user's hierarchy), then created (imported) or
//     updated. Conflicts are plain {object, value} in every version. The
//     status is ERROR when every registration was ignored, else SUCCESS,
//     with the description "Import process complete."; the answer is the
//     bare ImportSummary or the WebMessage wrapper on the same rule as the
//     data value import (409 for ERROR, 200 for SUCCESS).
//   - GET /api/completeDataSetRegistrations?dataSet=&period=&orgUnit=
//     [&children=true]: {"completeDataSetRegistrations": [{period, dataSet,
//     organisationUnit, attributeOptionCombo, date, storedBy, completed}]};
//     409 E2013/E2002/E2006 without a data set, period or org unit.
//   - Lock exceptions (POST /api/lockExceptions?ds=&pe=&ou= in DHIS2; here
//     AddLockException): a period past the data set's expiry days stays
//     open for that org unit (DataSetService.getLockStatus).

// AddLockException opens an expired period of a data set for one org unit,
// as DHIS2's lock exceptions do.
func (s *Server) AddLockException(dataSet, period, orgUnit string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lockExceptions == nil {
		s.lockExceptions = map[string]bool{}
	}
	s.lockExceptions[dataSet+"/"+period+"/"+orgUnit] = true
}

// lockException reports whether a lock exception opens the period. The
// caller holds s.mu.
func (s *Server) lockException(dataSet, period, orgUnit string) bool {
	return s.lockExceptions[dataSet+"/"+period+"/"+orgUnit]
}

// Complete registers a data set complete directly (no checks), to set up a
// test.
func (s *Server) Complete(dataSet, period, orgUnit, aoc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.complete(dataSet, period, orgUnit, cmp.Or(aoc, s.x.defaultCOC), s.now().UTC())
}

type wireRegistration struct {
	DataSet              string `json:"dataSet"`
	Period               string `json:"period"`
	OrganisationUnit     string `json:"organisationUnit"`
	AttributeOptionCombo string `json:"attributeOptionCombo"`
	Date                 string `json:"date"`
	StoredBy             string `json:"storedBy"`
	Completed            *bool  `json:"completed"`
}

func (s *Server) completeDataSetRegistrations(w http.ResponseWriter, r *request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.getRegistrations(w, r)
	case http.MethodPost:
		s.postRegistrations(w, r)
	default:
		s.methodNotAllowed(w, r)
	}
}

func (s *Server) postRegistrations(w http.ResponseWriter, r *request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, webMessage(http.StatusUnsupportedMediaType, "ERROR",
			"Content type '"+r.Header.Get("Content-Type")+"' not supported"))
		return
	}
	q := r.URL.Query()
	dryRun := queryBool(q, "dryRun")
	strategy := strategies[strings.ToUpper(cmp.Or(q.Get("importStrategy"), q.Get("strategy"), "CREATE_AND_UPDATE"))]
	sum := newSummary(s.v)
	sum.description = "Import process complete."
	var body struct {
		Registrations []wireRegistration `json:"completeDataSetRegistrations"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		sum.status = statusError
		sum.description = "The import process failed: " + err.Error()
		s.writeSummary(w, r, sum)
		return
	}
	addConflict := func(object, value string) {
		sum.addConflict(&conflict{object: object, value: value, key: object + "\x00" + value, plain: true})
	}
	s.mu.Lock()
	now := s.now().UTC()
	x := s.x
	for _, reg := range body.Registrations {
		ds := x.ds[strings.TrimSpace(reg.DataSet)]
		pe, peOK := ParsePeriod(strings.TrimSpace(reg.Period), s.v.minor)
		ou := x.ou[strings.TrimSpace(reg.OrganisationUnit)]
		switch {
		case ds == nil:
			addConflict(reg.DataSet, "Data set not found or not accessible")
			continue
		case !peOK:
			addConflict(reg.Period, "Period not valid")
			continue
		case ou == nil:
			addConflict(reg.OrganisationUnit, "Organisation unit not found or not accessible")
			continue
		case !x.inHierarchy(ou.ID, s.user.OrgUnits):
			addConflict(ou.ID, "Organisation unit is not in hierarchy of user: "+s.user.Username)
			continue
		}
		aoc := x.defaultCOC // an unknown or absent combo falls back to the default
		if c := x.coc[strings.TrimSpace(reg.AttributeOptionCombo)]; c != nil {
			aoc = c.ID
		}
		completed := reg.Completed == nil || *reg.Completed
		date := now
		if d := parseDay(reg.Date); !d.IsZero() {
			date = d
		}
		k := ds.ID + "/" + pe.ISO + "/" + ou.ID + "/" + aoc
		existing := s.registrations[k]
		switch {
		case existing != nil && strategy == "DELETE":
			sum.deleted++
			if !dryRun {
				delete(s.registrations, k)
			}
		case existing != nil && strategy != "CREATE":
			sum.updated++
			if !dryRun {
				existing.CompleteDate, existing.Completed = date, completed
			}
		case existing == nil && strategy != "UPDATE" && strategy != "DELETE":
			sum.imported++
			if !dryRun {
				s.complete(ds.ID, pe.ISO, ou.ID, aoc, date)
				s.registrations[k].Completed = completed
			}
		}
	}
	s.mu.Unlock()
	total := len(body.Registrations)
	sum.ignored = total - sum.imported - sum.updated - sum.deleted
	if total == sum.ignored {
		sum.status = statusError
	}
	s.writeSummary(w, r, sum)
}

func (s *Server) getRegistrations(w http.ResponseWriter, r *request) {
	q := r.URL.Query()
	x := s.x
	var dataSets []string
	for _, id := range q["dataSet"] {
		if x.ds[id] != nil {
			dataSets = append(dataSets, id)
		}
	}
	var periods []string
	for _, p := range q["period"] {
		if pe, ok := ParsePeriod(p, s.v.minor); ok {
			periods = append(periods, pe.ISO)
		}
	}
	ous := map[string]bool{}
	for _, id := range q["orgUnit"] {
		ou := x.ou[id]
		if ou == nil {
			continue
		}
		ous[id] = true
		if queryBool(q, "children") {
			for _, o := range x.ouIx {
				if strings.HasPrefix(o.Path, ou.Path+"/") {
					ous[o.ID] = true
				}
			}
		}
	}
	switch {
	case len(dataSets) == 0:
		pullError(w, "E2013", "At least one data set must be specified")
		return
	case len(periods) == 0:
		pullError(w, "E2002", "At least one period, start/end dates, last updated or last updated duration must be specified")
		return
	case len(ous) == 0:
		pullError(w, "E2006", "At least one organisation unit or organisation unit group must be specified")
		return
	}
	s.mu.Lock()
	var list []obj
	for _, reg := range s.sortedRegistrations() {
		if !slices.Contains(dataSets, reg.DataSet) || !slices.Contains(periods, reg.Period) || !ous[reg.OrgUnit] {
			continue
		}
		list = append(list, obj{{"period", reg.Period}, {"dataSet", reg.DataSet}, {"organisationUnit", reg.OrgUnit},
			{"attributeOptionCombo", reg.AttributeOptionCombo}, {"date", reg.CompleteDate.UTC().Format(time.DateOnly)},
			{"storedBy", reg.StoredBy}, {"completed", reg.Completed}})
	}
	s.mu.Unlock()
	if list == nil {
		list = []obj{}
	}
	writeJSON(w, http.StatusOK, obj{{"completeDataSetRegistrations", list}})
}

// sortedRegistrations is Registrations for a caller that holds s.mu.
func (s *Server) sortedRegistrations() []Registration {
	out := make([]Registration, 0, len(s.registrations))
	for _, r := range s.registrations {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Registration) int {
		return cmp.Or(cmp.Compare(a.DataSet, b.DataSet), cmp.Compare(a.Period, b.Period),
			cmp.Compare(a.OrgUnit, b.OrgUnit), cmp.Compare(a.AttributeOptionCombo, b.AttributeOptionCombo))
	})
	return out
}

// dataApprovals handles GET /api/dataApprovals/approvals?wf=&pe=&ou=[&aoc=]
// (dhis2-docs "Data approval", bulk status): comma-separated lists, one
// entry per period, org unit and attribute option combo, with its state.
// The sandbox approves exactly what Approve was given: APPROVED_HERE there,
// UNAPPROVED_READY elsewhere for a workflow of a data set, UNAPPROVABLE for
// an unknown workflow.
func (s *Server) dataApprovals(w http.ResponseWriter, r *request) {
	q := r.URL.Query()
	split := func(k string) []string {
		var out []string
		for _, v := range q[k] {
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		}
		return out
	}
	wfs, pes, ous, aocs := split("wf"), split("pe"), split("ou"), split("aoc")
	if len(wfs) == 0 || len(pes) == 0 || len(ous) == 0 {
		writeJSON(w, http.StatusConflict, webMessage(http.StatusConflict, "ERROR", "Workflow, period and organisation unit must be specified"))
		return
	}
	if len(aocs) == 0 {
		aocs = []string{s.x.defaultCOC}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := []obj{}
	for _, wf := range wfs {
		known := slices.ContainsFunc(s.md.DataSets, func(ds DataSet) bool { return ds.Workflow != nil && ds.Workflow.ID == wf })
		for _, pe := range pes {
			for _, ou := range ous {
				for _, aoc := range aocs {
					state, approved := "UNAPPROVABLE", false
					if known {
						approved = s.approvals[approvalKey(wf, pe, ou, aoc)]
						state = map[bool]string{true: "APPROVED_HERE", false: "UNAPPROVED_READY"}[approved]
					}
					list = append(list, obj{{"aoc", aoc}, {"pe", pe}, {"ou", ou},
						{"permissions", obj{{"mayApprove", known && !approved}, {"mayUnapprove", approved}, {"mayAccept", approved},
							{"mayUnaccept", false}, {"mayReadData", true}}},
						{"state", state}, {"wf", wf}})
				}
			}
		}
	}
	writeJSON(w, http.StatusOK, list)
}
