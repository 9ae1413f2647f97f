package export

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/dhis2"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/readiness"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/validate"
)

// DHIS2Target is what the service needs from DHIS2. *dhis2.Client
// implements it.
type DHIS2Target interface {
	Metadata(ctx context.Context, dataSetID string) (validate.Metadata, error)
	PushDataValues(ctx context.Context, values []validate.Value, opts dhis2.PushOptions) (dhis2.ImportResult, error)
}

// Outcome of an export, in OpenHIM's transaction status words.
const (
	// StatusSuccessful: every built value passed validation and DHIS2
	// imported all of them without a conflict.
	StatusSuccessful = "Successful"
	// StatusCompletedWithErrors: some values were pushed and imported, but
	// validation or DHIS2 rejected others.
	StatusCompletedWithErrors = "Completed with error(s)"
	// StatusFailed: nothing could be imported.
	StatusFailed = "Failed"
)

// Report is the result of an export, for people and
// programs: what was built, what was rejected and why, what DHIS2 said.
type Report struct {
	Status     string         `json:"status"`
	DataSet    string         `json:"dataSet"`
	Period     string         `json:"period"`
	OrgUnits   []string       `json:"orgUnits"`
	DataValues ValueCounts    `json:"dataValues"`
	Problems   []Problem      `json:"problems"`
	Import     *ImportSummary `json:"import"`
	DryRun     bool           `json:"dryRun"`
	// Readiness is the month's readiness in CHT (who has synced it).
	Readiness *readiness.Object `json:"readiness,omitempty"`
	// Forced is true when the export was asked to push past the readiness
	// gate and the gate would have held it back; ForcedPast says why.
	Forced     bool   `json:"forced"`
	ForcedPast string `json:"forcedPast,omitempty"`
	// Error says why the export failed or stopped, when it did.
	Error string `json:"error,omitempty"`
	// Changes is the diff against what DHIS2 held before the push.
	Changes *Changes `json:"changes,omitempty"`
	// Completeness says which org units were registered complete.
	Completeness *Completeness `json:"completeness,omitempty"`
	// Cause is the upstream failure that stopped the push part-way (nil when
	// the push ran to its end): a transient failure, so a later run may
	// send what this one could not.
	Cause error `json:"-"`
}

// ValueCounts counts the data values of an export.
type ValueCounts struct {
	Built    int `json:"built"`    // computed from CHT
	Valid    int `json:"valid"`    // passed validation, so pushed
	Rejected int `json:"rejected"` // refused by validation (never sent) or by DHIS2
	// NotSent counts the valid values DHIS2 never answered for, because the
	// push stopped part-way: the chunk that failed (its outcome is unknown)
	// and every chunk after it. Each is listed in the problems.
	NotSent int `json:"notSent"`
}

// Problem is one thing found wrong, in the CHT data (a skipped doc), by
// validation (a value not sent) or by DHIS2 (a conflict).
type Problem struct {
	Code                 string `json:"code"`
	Message              string `json:"message"`
	OrgUnit              string `json:"orgUnit,omitempty"`
	DataElement          string `json:"dataElement,omitempty"`
	CategoryOptionCombo  string `json:"categoryOptionCombo,omitempty"`
	AttributeOptionCombo string `json:"attributeOptionCombo,omitempty"`
	Value                string `json:"value,omitempty"`
	DocID                string `json:"docId,omitempty"`
}

// ImportSummary is DHIS2's answer to the push, merged over chunks, with each
// conflict translated to the values it concerns.
type ImportSummary struct {
	Status      string     `json:"status"`
	Imported    int        `json:"imported"`
	Updated     int        `json:"updated"`
	Ignored     int        `json:"ignored"`
	Deleted     int        `json:"deleted"`
	Description string     `json:"description,omitempty"`
	Chunks      int        `json:"chunks"`
	Conflicts   []Conflict `json:"conflicts"`
}

// Conflict is one DHIS2 conflict and the pushed values it concerns.
type Conflict struct {
	ErrorCode string      `json:"errorCode,omitempty"`
	Message   string      `json:"message"`
	Object    string      `json:"object,omitempty"`
	Property  string      `json:"property,omitempty"`
	Values    []DataValue `json:"values,omitempty"`
}

// ExportRequest is a Request to push, optionally as a dry run.
type ExportRequest struct {
	Request
	DryRun bool
	// Force pushes a month the readiness gate would hold back (not ended,
	// no target doc, too few CHWs synced); the report says it was forced.
	Force bool
}

// Export builds the data value set of req from CHT, validates every value
// against the data set's DHIS2 metadata, pushes the valid ones and reports.
// An error means the export could not run at all (bad input, an upstream
// down before anything was pushed); otherwise the report says what
// happened, including partial failures.
func (s *Service) Export(ctx context.Context, req ExportRequest) (*Report, error) {
	if s.dhis2 == nil {
		return nil, NotConfigured(errors.New("the mediator has no DHIS2 configuration yet: set dhis2.url and dhis2.token or dhis2.username and dhis2.password (config file, environment or the OpenHIM console)"))
	}
	req.HumanReadable = false
	op := fmt.Sprintf("export %s %s", req.DataSet, req.Period)
	p, err := s.Preview(ctx, req.Request)
	if err != nil {
		return nil, err
	}
	gate, err := s.gate(req, p.Readiness)
	if err != nil {
		return nil, err
	}
	rep := &Report{
		DataSet:   req.DataSet,
		Period:    req.Period.Period(),
		OrgUnits:  orgUnitsOf(p.Set.DataValues),
		DryRun:    req.DryRun,
		Problems:  make([]Problem, 0, len(p.Problems)),
		Readiness: p.Readiness,
	}
	for _, pr := range p.Problems {
		rep.Problems = append(rep.Problems, Problem{Code: pr.Code, Message: pr.Message, OrgUnit: pr.OrgUnit, DataElement: pr.DataElement, DocID: pr.DocID})
	}
	if gate != "" {
		// Held back before DHIS2 is asked anything.
		if !req.Force {
			rep.Status = StatusFailed
			rep.Error = "month not ready: " + gate
			s.log.Warn("export held back: month not ready", "data_set", req.DataSet, "period", rep.Period, "reason", gate)
			return nil, &NotReadyError{DataSet: req.DataSet, Period: rep.Period, Readiness: p.Readiness, Report: rep}
		}
		rep.Forced, rep.ForcedPast = true, gate
		s.log.Warn("export forced past the readiness gate", "data_set", req.DataSet, "period", rep.Period, "gate", gate)
	}
	md, err := s.dhis2.Metadata(ctx, req.DataSet)
	if err != nil {
		if errors.Is(err, dhis2.ErrDataSetNotFound) {
			return nil, &InputError{Err: fmt.Errorf("data set %q is in CHT's dhis_data_sets but not in DHIS2", req.DataSet)}
		}
		return nil, fmt.Errorf("%s: read DHIS2 metadata: %w", op, err)
	}
	values := make([]validate.Value, len(p.Set.DataValues))
	for i, dv := range p.Set.DataValues {
		values[i] = validate.Value{
			DataElement: dv.DataElement, Period: dv.Period, OrgUnit: dv.OrgUnit,
			CategoryOptionCombo: dv.CategoryOptionCombo, AttributeOptionCombo: dv.AttributeOptionCombo,
			Value: dv.Value, Attributes: dv.Attributes,
		}
	}
	now := s.serverNow(ctx) // DHIS2 judges periods by its own clock
	valid, problems := validate.Check(md, values, now)
	for _, pr := range problems {
		rep.Problems = append(rep.Problems, Problem{Code: pr.Code, Message: pr.Message, OrgUnit: pr.OrgUnit, DataElement: pr.DataElement,
			CategoryOptionCombo: pr.CategoryOptionCombo, AttributeOptionCombo: pr.AttributeOptionCombo, Value: pr.Value})
	}
	rep.DataValues = ValueCounts{Built: len(values), Valid: len(valid), Rejected: len(values) - len(valid)}
	valid = s.predictLocks(ctx, rep, md, rep.Period, now, valid)
	if len(valid) == 0 {
		rep.Status = StatusFailed
		rep.Error = "nothing to push: no data value passed validation"
		if len(values) == 0 {
			rep.Error = fmt.Sprintf("nothing to push: no CHT contact maps a DHIS2 org unit for data set %s", req.DataSet)
		}
		s.log.Warn("export pushed nothing", "data_set", req.DataSet, "period", rep.Period, "reason", rep.Error)
		return rep, nil
	}

	// Diff first: only new and changed values are sent, owned stale ones
	// deleted.
	toSend, toDelete := valid, []validate.Value(nil)
	d, owner, err := s.diff(ctx, req, md, values, valid)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if d != nil {
		toSend, toDelete = d.Send, d.Delete
		reportChanges(rep, d, owner, req.DryRun)
		toSend, toDelete = s.predictApproval(ctx, rep, md, rep.Period, toSend, toDelete)
	}

	// pushed is the slice a stopped push's indexes refer to.
	res, pushErr, pushed := dhis2.ImportResult{Status: dhis2.ImportSuccess}, error(nil), toSend
	if len(toSend) > 0 {
		opts := dhis2.PushOptions{DryRun: req.DryRun, DataSet: req.DataSet}
		res, pushErr = s.dhis2.PushDataValues(ctx, toSend, opts)
		if pushErr == nil && d != nil {
			var rest []validate.Value
			if res, rest, pushErr = s.isolateOrgUnits(ctx, res, toSend, opts); rest != nil {
				pushed = rest
			}
		}
	}
	var pe *dhis2.PushError
	if pushErr != nil && !errors.As(pushErr, &pe) {
		// Nothing was answered: credentials refused, DHIS2 down before the
		// first chunk.
		return nil, fmt.Errorf("%s: push to DHIS2: %w", op, pushErr)
	}
	var failedOUs map[string]bool
	if pushErr == nil {
		var delRes dhis2.ImportResult
		delRes, failedOUs, pushErr = s.deleteStale(ctx, rep, req.DataSet, toDelete, req.DryRun)
		if pushErr != nil && !errors.As(pushErr, &pe) {
			return nil, fmt.Errorf("%s: delete stale values in DHIS2: %w", op, pushErr)
		}
		if pushErr != nil {
			pushed = toDelete
		}
		res = mergeResults(res, delRes)
	}
	if res.Chunks > 0 {
		// Without an answered chunk there is no import summary to show.
		rep.Import = summarize(res, toSend)
	}
	rejected := map[int]bool{}
	for _, i := range res.RejectedIndexes {
		rejected[i] = true
	}
	rep.DataValues.Rejected += len(rejected)
	for _, c := range res.Conflicts {
		if len(c.Indexes) == 0 {
			// Servers before 2.37 name the object but not the value.
			rep.Problems = append(rep.Problems, Problem{Code: "dhis2_conflict", Message: conflictMessage(c)})
		}
		for _, i := range c.Indexes {
			if i < 0 || i >= len(toSend) {
				continue
			}
			v := toSend[i]
			if failedOUs == nil {
				failedOUs = map[string]bool{}
			}
			failedOUs[v.OrgUnit] = true
			rep.Problems = append(rep.Problems, Problem{Code: "dhis2_conflict", Message: conflictMessage(c),
				OrgUnit: v.OrgUnit, DataElement: v.DataElement, CategoryOptionCombo: v.CategoryOptionCombo,
				AttributeOptionCombo: v.AttributeOptionCombo, Value: v.Value})
		}
	}
	switch {
	case pe != nil:
		s.stopped(ctx, rep, req, pushed, pe)
		rep.Status = StatusCompletedWithErrors
		if res.Written() == 0 {
			rep.Status = StatusFailed
		}
	case res.RejectedAsWhole():
		rep.Status = StatusFailed
		rep.Error = "DHIS2 rejected the import: " + res.Description
	case rep.DataValues.Rejected > 0 || len(res.Conflicts) > 0 || res.Status != dhis2.ImportSuccess:
		rep.Status = StatusCompletedWithErrors
	default:
		rep.Status = StatusSuccessful
	}
	s.register(ctx, rep, req, md, values, valid, failedOUs, pe != nil || res.RejectedAsWhole())
	if rep.Status == StatusSuccessful && (rep.Completeness != nil && rep.Completeness.Error != "" || hasProblem(rep, codeValueKept)) {
		rep.Status = StatusCompletedWithErrors
	}
	s.log.Info("export done", "data_set", req.DataSet, "period", rep.Period, "status", rep.Status, "dry_run", req.DryRun,
		"built", rep.DataValues.Built, "valid", rep.DataValues.Valid, "rejected", rep.DataValues.Rejected,
		"imported", res.Imported, "updated", res.Updated, "ignored", res.Ignored, "conflicts", len(res.Conflicts))
	return rep, nil
}

// ProblemNotSent is the problem code of a valid value DHIS2 never answered
// for because the push stopped part-way.
const ProblemNotSent = "not_sent"

// maxNamedInLog bounds how many unsent values the log line names.
const maxNamedInLog = 20

// stopped records on rep a push that stopped part-way: every value from
// the failed chunk on is counted as not sent and listed in the problems,
// the error says how many and why, and an ERROR log line names them.
func (s *Service) stopped(ctx context.Context, rep *Report, req ExportRequest, valid []validate.Value, pe *dhis2.PushError) {
	first := min(max(pe.First, 0), len(valid))
	unsent := valid[first:]
	rep.DataValues.NotSent = len(unsent)
	rep.Cause = pe
	why := "the push to DHIS2 stopped part-way"
	if err := context.Cause(ctx); err != nil {
		why = "the export was interrupted (" + err.Error() + ")"
	}
	rep.Error = fmt.Sprintf("%s: %d of %d values not sent: %v", why, len(unsent), len(valid), pe)
	named := make([]string, 0, min(len(unsent), maxNamedInLog))
	for i, v := range unsent {
		msg := "not sent: " + why + " before DHIS2 answered for this value"
		if i < pe.Last-first+1 && !pe.NotSent {
			msg = "not confirmed: " + why + " while DHIS2 had this value's chunk; it may or may not be stored"
		}
		rep.Problems = append(rep.Problems, Problem{Code: ProblemNotSent, Message: msg, OrgUnit: v.OrgUnit, DataElement: v.DataElement,
			CategoryOptionCombo: v.CategoryOptionCombo, AttributeOptionCombo: v.AttributeOptionCombo, Value: v.Value})
		if len(named) < maxNamedInLog {
			named = append(named, valueName(v))
		}
	}
	if more := len(unsent) - len(named); more > 0 {
		named = append(named, fmt.Sprintf("and %d more", more))
	}
	// An export cut off (shutdown, SIGINT) logs at ERROR: nobody may read
	// its answer. Otherwise the answer carries the error and the caller
	// logs it; this line names the values.
	level := slog.LevelWarn
	if ctx.Err() != nil {
		level = slog.LevelError
	}
	s.log.Log(ctx, level, "export stopped part-way: values not sent", "data_set", req.DataSet, "period", rep.Period,
		"not_sent", len(unsent), "valid", len(valid), "values", named, "err", pe)
}

// valueName names a value for a log line: orgUnit/dataElement[/coc][/aoc]=value.
func valueName(v validate.Value) string {
	name := v.OrgUnit + "/" + v.DataElement
	if v.CategoryOptionCombo != "" {
		name += "/" + v.CategoryOptionCombo
	}
	if v.AttributeOptionCombo != "" {
		name += "/" + v.AttributeOptionCombo
	}
	return name + "=" + v.Value
}

// summarize converts DHIS2's result, translating conflict indexes into the
// values pushed.
func summarize(res dhis2.ImportResult, pushed []validate.Value) *ImportSummary {
	sum := &ImportSummary{
		Status: res.Status, Imported: res.Imported, Updated: res.Updated, Ignored: res.Ignored, Deleted: res.Deleted,
		Description: res.Description, Chunks: res.Chunks, Conflicts: make([]Conflict, 0, len(res.Conflicts)),
	}
	for _, c := range res.Conflicts {
		out := Conflict{ErrorCode: c.ErrorCode, Message: c.Value, Object: c.Object, Property: c.Property}
		for _, i := range c.Indexes {
			if i >= 0 && i < len(pushed) {
				v := pushed[i]
				out.Values = append(out.Values, DataValue{DataElement: v.DataElement, Period: v.Period, OrgUnit: v.OrgUnit,
					CategoryOptionCombo: v.CategoryOptionCombo, AttributeOptionCombo: v.AttributeOptionCombo, Value: v.Value})
			}
		}
		sum.Conflicts = append(sum.Conflicts, out)
	}
	return sum
}

func conflictMessage(c dhis2.Conflict) string {
	return "DHIS2 refused the value" + conflictSuffix(c)
}

func orgUnitsOf(values []DataValue) []string {
	var out []string
	for _, v := range values {
		out = append(out, v.OrgUnit)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// gate judges the readiness of a month before anything is sent to DHIS2.
// A month that has not begun is the request's mistake (an InputError). A
// month that is not ready (not ended, no target doc for the requested org
// units, fewer CHWs synced than export.min_ready) returns the reason, which
// Export turns into a NotReadyError unless forced. A dry run writes nothing,
// so it is never held back; its report still shows the readiness.
func (s *Service) gate(req ExportRequest, r *readiness.Object) (string, error) {
	if r == nil || r.Ready {
		return "", nil
	}
	if err := NotBegun(req.Period, r, s.now()); err != nil {
		return "", err
	}
	if req.DryRun {
		return "", nil
	}
	return r.Message, nil
}
