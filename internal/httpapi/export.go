package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
)

// reportSet is response.body of an export of every data set.
type reportSet struct {
	Status  string           `json:"status"`
	Period  string           `json:"period"`
	DryRun  bool             `json:"dryRun"`
	Reports []*export.Report `json:"reports"`
	// Error says why nothing was exported, when CHT defines no data set.
	Error string `json:"error,omitempty"`
}

// postExport serves POST and GET /export: build, validate and push one data
// set, or every data set of CHT's dhis_data_sets when dataSet is absent.
func (s *server) postExport(c *gin.Context) {
	var p exportParams
	if err := s.bindQuery("/export", c.Request.URL.RawQuery, &p); err != nil {
		s.badRequest(c, err, nil)
		return
	}
	period := aggregate.MonthOf(s.now()).Previous()
	if p.Period != "" {
		period, _ = aggregate.ParseMonth(p.Period) // validated
	}
	req := export.ExportRequest{
		Request: export.Request{DataSet: p.DataSet, Period: period, OrgUnit: p.OrgUnit, Children: p.Children == "true"},
		DryRun:  p.DryRun == "true",
		Force:   p.Force == "true",
	}
	props := map[string]string{"period": period.Period(), "dryRun": strconv.FormatBool(req.DryRun)}
	if p.DataSet != "" {
		props["dataSet"] = p.DataSet
	}
	if p.OrgUnit != "" {
		props["orgUnit"] = p.OrgUnit
	}

	ctx, collect := s.withRecorder(c.Request.Context())
	log := s.reqLog(c)

	if p.DataSet != "" {
		rep, err := s.exp.Export(ctx, req)
		if err == nil && rep == nil {
			err = errNoReport
		}
		if nr := notReadyOf(err); nr != nil {
			s.writeNotReady(c, nr, props, collect())
			return
		}
		if err != nil {
			s.fail(c, err, props, collect())
			return
		}
		rep = redactReport(rep)
		body, err := json.Marshal(rep)
		if err != nil {
			s.fail(c, err, props, collect())
			return
		}
		code := reportCode(rep.Status)
		if code >= 500 {
			log.Error("export failed", "data_set", rep.DataSet, "period", rep.Period, "err", rep.Error)
		}
		s.writeEnvelope(c, answer{
			code: code, status: rep.Status, body: body,
			properties: reportProperties(props, []*export.Report{rep}), orchestrations: collect(),
		})
		return
	}

	ids, err := s.exp.DataSets(ctx)
	if err != nil {
		s.fail(c, err, props, collect())
		return
	}
	set := reportSet{Period: period.Period(), DryRun: req.DryRun, Reports: make([]*export.Report, 0, len(ids))}
	var codes []int
	var retryErr string
	for _, id := range ids {
		r := req
		r.DataSet = id
		rep, err := s.exp.Export(ctx, r)
		if err == nil && rep == nil {
			err = errNoReport
		}
		if err != nil {
			code := statusFor(err)
			if code == StatusClientClosedRequest {
				// The client went away: stop, there is nobody to answer.
				s.fail(c, err, props, collect())
				return
			}
			log.Error("export failed", "data_set", id, "period", set.Period, "err", redact(err.Error()))
			if retryable(code) && retryErr == "" {
				retryErr = "data set " + id + ": " + redact(err.Error())
			}
			rep = &export.Report{
				Status: export.StatusFailed, DataSet: id, Period: set.Period, DryRun: req.DryRun,
				OrgUnits: []string{}, Problems: []export.Problem{}, Error: err.Error(),
			}
			if nr := notReadyOf(err); nr != nil && nr.Report != nil {
				rep = nr.Report
			}
			codes = append(codes, code)
		} else {
			codes = append(codes, reportCode(rep.Status))
		}
		set.Reports = append(set.Reports, redactReport(rep))
	}
	if len(ids) > 0 {
		props["dataSet"] = strings.Join(ids, ",")
	}
	a := answer{properties: reportProperties(props, set.Reports), err: retryErr}
	a.code, a.status = combine(set.Reports, codes)
	if len(ids) == 0 {
		set.Error = "nothing to export: CHT's app settings define no dhis_data_sets"
		a.code, a.status, a.err = http.StatusBadGateway, openhim.StatusFailed, set.Error
		log.Error("export failed", "period", set.Period, "err", set.Error)
	}
	set.Status = a.status
	if a.body, err = json.Marshal(set); err != nil {
		s.fail(c, err, props, collect())
		return
	}
	a.orchestrations = collect()
	s.writeEnvelope(c, a)
}

// errNoReport is the answer of an Exporter that returned neither a report
// nor an error: a bug, so a 500.
var errNoReport = errors.New("export: the exporter returned no report")

// reportCode is the HTTP status of an export report: 200 when anything was
// imported (the body tells what was rejected), 502 when nothing was.
func reportCode(status string) int {
	if status == export.StatusFailed {
		return http.StatusBadGateway
	}
	return http.StatusOK
}

// combine gives the HTTP and OpenHIM status of an export of several data
// sets: Successful when every one is; Failed when every one failed (with the
// highest status code among them; 400 and Completed when every failure was
// the request's, such as an org unit no data set maps); else Completed with
// error(s) and 200.
func combine(reports []*export.Report, codes []int) (int, string) {
	failed, successful := 0, 0
	for _, r := range reports {
		switch r.Status {
		case export.StatusFailed:
			failed++
		case export.StatusSuccessful:
			successful++
		}
	}
	switch {
	case successful == len(reports):
		return http.StatusOK, openhim.StatusSuccessful
	case failed == len(reports):
		code := slices.Max(codes)
		return code, envelopeStatusOfFailure(code)
	default:
		return http.StatusOK, openhim.StatusCompletedWithErrors
	}
}

// envelopeStatusOfFailure is Failed, except for a client mistake (4xx). A
// month not ready (409) is Failed: the export did not happen.
func envelopeStatusOfFailure(code int) string {
	if code >= 400 && code < 500 && code != StatusClientClosedRequest && code != http.StatusConflict {
		return openhim.StatusCompleted
	}
	return openhim.StatusFailed
}

// reportProperties adds the counts of reports to props, as strings: the
// sums over every report, and the number of distinct org units.
func reportProperties(props map[string]string, reports []*export.Report) map[string]string {
	var built, valid, rejected, imported, updated, ignored, conflicts int
	orgUnits := map[string]bool{}
	for _, r := range reports {
		built += r.DataValues.Built
		valid += r.DataValues.Valid
		rejected += r.DataValues.Rejected
		for _, ou := range r.OrgUnits {
			orgUnits[ou] = true
		}
		if r.Import != nil {
			imported += r.Import.Imported
			updated += r.Import.Updated
			ignored += r.Import.Ignored
			conflicts += len(r.Import.Conflicts)
		}
	}
	for k, v := range map[string]int{
		"orgUnits": len(orgUnits), "built": built, "valid": valid, "rejected": rejected,
		"imported": imported, "updated": updated, "ignored": ignored, "conflicts": conflicts,
	} {
		props[k] = strconv.Itoa(v)
	}
	readinessProperties(props, reports)
	return props
}

// redactReport returns rep with its error text redacted (a copy when that
// changes anything).
func redactReport(rep *export.Report) *export.Report {
	if rep.Error == "" {
		return rep
	}
	if r := redact(rep.Error); r != rep.Error {
		cp := *rep
		cp.Error = r
		return &cp
	}
	return rep
}

// fail answers an error of the Exporter: the status is statusFor(err), the
// message the error's text, redacted.
func (s *server) fail(c *gin.Context, err error, props map[string]string, orchs []openhim.Orchestration) {
	code := statusFor(err)
	log := s.reqLog(c)
	msg := redact(err.Error())
	switch {
	case code == StatusClientClosedRequest:
		log.Info("client went away", "err", msg)
	case code < 500:
		log.Info("request refused", "status", code, "err", msg)
	default:
		log.Error("request failed", "status", code, "err", msg)
	}
	s.writeError(c, code, msg, "", props, orchs)
}

// badRequest answers a parameter error.
func (s *server) badRequest(c *gin.Context, err error, props map[string]string) {
	var pe *paramError
	code := ""
	if errors.As(err, &pe) {
		code = pe.ErrorCode
	}
	s.reqLog(c).Info("bad request", "err", err.Error())
	s.writeError(c, http.StatusBadRequest, err.Error(), code, props, nil)
}
