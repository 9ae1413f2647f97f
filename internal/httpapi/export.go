package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/flight"
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
	if s.startAsync(c) {
		return
	}
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

	log := s.reqLog(c)

	if p.DataSet != "" {
		// The shared export records its own orchestrations.
		rep, orchs, err := s.export(c.Request.Context(), req)
		if err == nil && rep == nil {
			err = errNoReport
		}
		if nr := notReadyOf(err); nr != nil {
			s.writeNotReady(c, nr, props, orchs)
			return
		}
		if err != nil {
			s.fail(c, err, props, orchs)
			return
		}
		body, err := json.Marshal(rep)
		if err != nil {
			s.fail(c, err, props, orchs)
			return
		}
		code, retry := reportAnswer(rep)
		a := answer{
			code: code, status: rep.Status, body: body,
			properties: reportProperties(props, []*export.Report{rep}), orchestrations: orchs,
		}
		if retry {
			a.err = "data set " + rep.DataSet + ": " + rep.Error
		}
		if code >= 500 {
			log.Error("export failed", "data_set", rep.DataSet, "period", rep.Period, "status", code, "not_sent", rep.DataValues.NotSent, "err", rep.Error)
		}
		s.writeEnvelope(c, a)
		return
	}

	ctx, collect := s.withRecorder(c.Request.Context())
	ids, err := s.exp.DataSets(ctx)
	if err != nil {
		s.fail(c, err, props, collect())
		return
	}
	set := reportSet{Period: period.Period(), DryRun: req.DryRun, Reports: make([]*export.Report, 0, len(ids))}
	var codes []int
	var retryErr string
	var orchs []openhim.Orchestration
	for _, id := range ids {
		r := req
		r.DataSet = id
		rep, o, err := s.export(c.Request.Context(), r)
		orchs = append(orchs, o...)
		if err == nil && rep == nil {
			err = errNoReport
		}
		if err != nil {
			code := statusFor(err)
			if code == StatusClientClosedRequest {
				// The client went away: stop, there is nobody to answer.
				s.fail(c, err, props, append(collect(), orchs...))
				return
			}
			log.Error("export failed", "data_set", id, "period", set.Period, "err", err)
			if retryable(code, err) && retryErr == "" {
				retryErr = "data set " + id + ": " + err.Error()
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
			code, retry := reportAnswer(rep)
			if retry && retryErr == "" {
				retryErr = "data set " + id + ": " + rep.Error
			}
			if code >= 500 {
				log.Error("export failed", "data_set", id, "period", set.Period, "status", code, "not_sent", rep.DataValues.NotSent, "err", rep.Error)
			}
			codes = append(codes, code)
		}
		set.Reports = append(set.Reports, rep)
	}
	if len(ids) > 0 {
		props["dataSet"] = strings.Join(ids, ",")
	}
	a := answer{properties: reportProperties(props, set.Reports), err: retryErr}
	a.code, a.status = combine(set.Reports, codes)
	if retryErr != "" && a.code < 500 {
		// A data set's push stopped part-way or its upstream failed: the
		// answer must say so, so that OpenHIM retries the transaction.
		a.code = slices.Max(codes)
	}
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
	a.orchestrations = append(collect(), orchs...)
	s.writeEnvelope(c, a)
}

// errNoReport is the answer of an Exporter that returned neither a report
// nor an error: a bug, so a 500.
var errNoReport = errors.New("export: the exporter returned no report")

// exportResult is what a shared export hands every waiter.
type exportResult struct {
	rep   *export.Report
	orchs []openhim.Orchestration
}

// export runs req, sharing one run (one CHT read, one push) between
// identical concurrent requests: every waiter gets the same report and the
// orchestrations of the calls it depended on. The run stops when every
// waiter has gone, or when the mediator shuts down (Options.Shutdown):
// then the push stops between chunks and the report lists what was not
// sent.
func (s *server) export(ctx context.Context, req export.ExportRequest) (*export.Report, []openhim.Orchestration, error) {
	res, _, err := s.exports.Do(ctx, req, func(ctx context.Context) (exportResult, error) {
		ctx, stop := s.stoppable(ctx)
		defer stop()
		ctx, collect := s.withRecorder(ctx)
		rep, err := s.exp.Export(ctx, req)
		if err != nil && errors.Is(context.Cause(ctx), ErrShutdown) {
			err = fmt.Errorf("%w: %w", ErrShutdown, err)
		}
		return exportResult{rep: rep, orchs: collect()}, err
	}, nil)
	return res.rep, slices.Clone(res.orchs), err
}

// stoppable returns ctx canceled, with ErrShutdown as its cause, when the
// mediator shuts down.
func (s *server) stoppable(ctx context.Context) (context.Context, func()) {
	if s.shutdown == nil {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(s.shutdown, func() { cancel(ErrShutdown) })
	return ctx, func() { stop(); cancel(nil) }
}

// reportAnswer is the HTTP status of an export report and whether its
// answer carries the envelope's error member (OpenHIM's auto-retry):
//
//   - a push stopped part-way (Report.Cause): 502, 504 on a timeout, 503 at
//     shutdown; retried, as a later run can send what this one could not;
//   - nothing imported because validation or DHIS2 refused it: 502, not
//     retried (a retry meets the same refusal);
//   - anything imported: 200, whatever was rejected (the report says what).
func reportAnswer(rep *export.Report) (int, bool) {
	if rep.Cause != nil || rep.DataValues.NotSent > 0 {
		code := statusFor(rep.Cause)
		if code < 500 || code == StatusClientClosedRequest {
			code = http.StatusBadGateway
		}
		if strings.Contains(rep.Error, ErrShutdown.Error()) {
			code = http.StatusServiceUnavailable
		}
		return code, true
	}
	if rep.Status == export.StatusFailed {
		return http.StatusBadGateway, false
	}
	return http.StatusOK, false
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
	var built, valid, rejected, notSent, imported, updated, ignored, conflicts int
	orgUnits := map[string]bool{}
	for _, r := range reports {
		built += r.DataValues.Built
		valid += r.DataValues.Valid
		rejected += r.DataValues.Rejected
		notSent += r.DataValues.NotSent
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
		"orgUnits": len(orgUnits), "built": built, "valid": valid, "rejected": rejected, "notSent": notSent,
		"imported": imported, "updated": updated, "ignored": ignored, "conflicts": conflicts,
	} {
		props[k] = strconv.Itoa(v)
	}
	readinessProperties(props, reports)
	return props
}

// fail answers an error of the Exporter: the status is statusFor(err), the
// message the error's text, redacted.
func (s *server) fail(c *gin.Context, err error, props map[string]string, orchs []openhim.Orchestration) {
	code := statusFor(err)
	log := s.reqLog(c)
	if pe := (*flight.PanicError)(nil); errors.As(err, &pe) {
		log.Error("panic while handling a request", "panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
		s.writeError(c, http.StatusInternalServerError, true,
			"internal error: the mediator's log has the details under request_id "+c.GetString(keyRequestID), "", props, orchs)
		return
	}
	msg := err.Error()
	switch {
	case code == StatusClientClosedRequest:
		log.Info("client went away", "err", msg)
	case code < 500:
		log.Info("request refused", "status", code, "err", msg)
	default:
		log.Error("request failed", "status", code, "err", msg)
	}
	s.writeError(c, code, retryable(code, err), msg, "", props, orchs)
}

// badRequest answers a parameter error.
func (s *server) badRequest(c *gin.Context, err error, props map[string]string) {
	var pe *paramError
	code := ""
	if errors.As(err, &pe) {
		code = pe.ErrorCode
	}
	s.reqLog(c).Info("bad request", "err", err.Error())
	s.writeError(c, http.StatusBadRequest, false, err.Error(), code, props, nil)
}
