package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/export"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/openhim"
)

// Month readiness on the HTTP side: the answer of an export held back by the
// readiness gate, GET /readiness, and the readiness properties of a
// transaction.
//
// An export held back (the month has not ended, CHT holds no target doc of
// it, or too few CHWs have synced it; export.NotReadyError) answers 409
// with envelope status Failed and the envelope's error member, so that
// OpenHIM core marks the transaction for automatic retry: core retries only
// transactions whose mediator response carries an error (openhim-core-js
// src/middleware/router.js sets ctx.autoRetry from the mediator's error,
// src/middleware/messageStore.js queues the transaction, and
// src/autoRetry.js re-runs it after the channel's autoRetryPeriodMinutes, up
// to autoRetryMaxAttempts). Each attempt is a transaction of its own, and
// the first one after the CHWs synced pushes.
// response.body is the export report, with its readiness and the reason.

// notReadyOf returns the export held back by the readiness gate that err
// is, or nil.
func notReadyOf(err error) *export.NotReadyError {
	var nr *export.NotReadyError
	if errors.As(err, &nr) {
		return nr
	}
	return nil
}

// writeNotReady answers an export held back by the readiness gate.
func (s *server) writeNotReady(c *gin.Context, nr *export.NotReadyError, props map[string]string, orchs []openhim.Orchestration) {
	// writeEnvelope redacts every field.
	msg := nr.Error()
	s.reqLog(c).Info("export held back: month not ready", "data_set", nr.DataSet, "period", nr.Period, "err", msg)
	rep := nr.Report
	if rep == nil {
		rep = &export.Report{Status: export.StatusFailed, DataSet: nr.DataSet, Period: nr.Period,
			OrgUnits: []string{}, Problems: []export.Problem{}, Readiness: nr.Readiness}
	}
	body, err := json.Marshal(rep)
	if err != nil {
		body = errorBody(http.StatusConflict, msg, "")
	}
	s.writeEnvelope(c, answer{
		code: http.StatusConflict, status: openhim.StatusFailed, body: body,
		properties: reportProperties(props, []*export.Report{rep}), orchestrations: orchs, err: msg,
	})
}

// readinessProperties adds the readiness of the least ready report to
// props: ratio and counts, whether it passed the gate and whether an export
// was forced past it.
func readinessProperties(props map[string]string, reports []*export.Report) {
	var worst *export.Report
	forced := false
	for _, r := range reports {
		forced = forced || r.Forced
		if r.Readiness != nil && (worst == nil || r.Readiness.Ratio < worst.Readiness.Ratio ||
			!r.Readiness.Ready && worst.Readiness.Ready) {
			worst = r
		}
	}
	if forced {
		props["forced"] = "true"
	}
	if worst != nil {
		addReadiness(props, worst.Readiness.Ratio, worst.Readiness.Ready, worst.Readiness.Expected, worst.Readiness.Final,
			worst.Readiness.NoActivity, worst.Readiness.Pending, worst.Readiness.NeverSynced)
	}
}

func addReadiness(props map[string]string, ratio float64, ready bool, expected, final, noActivity, pending, never int) {
	props["readiness"] = strconv.FormatFloat(ratio, 'f', -1, 64)
	props["ready"] = strconv.FormatBool(ready)
	props["expected"] = strconv.Itoa(expected)
	props["final"] = strconv.Itoa(final)
	props["noActivity"] = strconv.Itoa(noActivity)
	props["pending"] = strconv.Itoa(pending)
	props["neverSynced"] = strconv.Itoa(never)
}

// previewReadinessProperties adds the readiness of a built month to props.
func previewReadinessProperties(props map[string]string, pv *export.Preview) {
	if r := pv.Readiness; r != nil {
		addReadiness(props, r.Ratio, r.Ready, r.Expected, r.Final, r.NoActivity, r.Pending, r.NeverSynced)
	}
}

// readinessParams are the query parameters of /readiness.
type readinessParams struct {
	DataSet  string `query:"dataSet" validate:"required,dhis2uid"`
	Period   string `query:"period" validate:"omitempty,yyyymm"`
	OrgUnit  string `query:"orgUnit" validate:"required_if=Children true,omitempty,dhis2uid"`
	Children string `query:"children" validate:"omitempty,oneof=true false"`
}

// getReadiness serves GET /readiness: who has synced the month (CHT only).
// The body is the readiness object; the answer is 200 Successful whether
// or not the month is ready (the object says), 400 for a month that has not
// begun.
func (s *server) getReadiness(c *gin.Context) {
	var p readinessParams
	if err := s.bindQuery("/readiness", c.Request.URL.RawQuery, &p); err != nil {
		s.badRequest(c, err, nil)
		return
	}
	period := aggregate.MonthOf(s.now()).Previous()
	if p.Period != "" {
		period, _ = aggregate.ParseMonth(p.Period) // validated
	}
	props := map[string]string{"dataSet": p.DataSet, "period": period.Period()}
	if p.OrgUnit != "" {
		props["orgUnit"] = p.OrgUnit
	}
	ctx, collect := s.withRecorder(c.Request.Context())
	pv, err := s.exp.Preview(ctx, export.Request{DataSet: p.DataSet, Period: period, OrgUnit: p.OrgUnit, Children: p.Children == "true"})
	if err == nil && (pv == nil || pv.Readiness == nil) {
		err = errors.New("export: the exporter returned no readiness")
	}
	if err != nil {
		s.fail(c, err, props, collect())
		return
	}
	r := pv.Readiness
	if err := export.NotBegun(period, r, s.now()); err != nil {
		s.badRequest(c, err, props)
		return
	}
	body, err := json.Marshal(r)
	if err != nil {
		s.fail(c, err, props, collect())
		return
	}
	previewReadinessProperties(props, pv)
	s.writeEnvelope(c, answer{code: http.StatusOK, status: openhim.StatusSuccessful, body: body, properties: props, orchestrations: collect()})
}
