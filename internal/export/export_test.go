package export

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/dhis2"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/validate"
)

// fakeDHIS2 is an in-memory DHIS2Target.
type fakeDHIS2 struct {
	md      validate.Metadata
	mdErr   error
	result  dhis2.ImportResult
	pushErr error
	pushed  []validate.Value
	opts    dhis2.PushOptions
	mdCalls int
}

func (f *fakeDHIS2) Metadata(context.Context, string) (validate.Metadata, error) {
	f.mdCalls++
	return f.md, f.mdErr
}

func (f *fakeDHIS2) PushDataValues(_ context.Context, values []validate.Value, opts dhis2.PushOptions) (dhis2.ImportResult, error) {
	f.pushed, f.opts = values, opts
	return f.result, f.pushErr
}

// specMetadata describes the composed example's data set in DHIS2: both org units
// assigned, both data elements whole numbers, the COC valid.
func specMetadata() validate.Metadata {
	return validate.Metadata{
		DataSet: validate.DataSet{ID: "dsMonthly01", PeriodType: "Monthly", OpenFuturePeriods: 0},
		DataElements: map[string]validate.DataElement{
			"deBirths001": {ID: "deBirths001", ValueType: "INTEGER_ZERO_OR_POSITIVE"},
			"deFacDel001": {ID: "deFacDel001", ValueType: "INTEGER_ZERO_OR_POSITIVE", CategoryOptionCombos: map[string]bool{"cocUnder5aa": true}},
		},
		OrgUnits:                   map[string]bool{"ouDistrict1": true, "ouHc0000001": true},
		DefaultCategoryOptionCombo: "HllvX50cXC0",
	}
}

func newExportService(t *testing.T, d DHIS2Target) *Service {
	t.Helper()
	s, err := New(specExample(), Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:    func() time.Time { return time.Date(2024, 7, 2, 9, 0, 0, 0, time.UTC) },
		DHIS2:  d,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestService_Export(t *testing.T) {
	unassigned := specMetadata()
	delete(unassigned.OrgUnits, "ouHc0000001")
	text := specMetadata()
	text.DataElements["deBirths001"] = validate.DataElement{ID: "deBirths001", ValueType: "TEXT"}
	weekly := specMetadata()
	weekly.DataSet.PeriodType = "Weekly"
	conflictAt := func(code string, idx ...int) dhis2.ImportResult {
		return dhis2.ImportResult{Status: dhis2.ImportWarning, Imported: 4 - len(idx), Chunks: 1, RejectedIndexes: idx,
			Conflicts: []dhis2.Conflict{{ErrorCode: code, Value: "Period is locked", Indexes: idx}}}
	}
	tests := []struct {
		name         string
		dhis         *fakeDHIS2
		dryRun       bool
		wantStatus   string
		wantCounts   ValueCounts
		wantPushed   int
		wantProblems []string // code/orgUnit/dataElement
		wantError    string   // contained in the report's error
		wantErr      string
	}{
		{
			name:       "all imported",
			dhis:       &fakeDHIS2{md: specMetadata(), result: dhis2.ImportResult{Status: dhis2.ImportSuccess, Imported: 4, Chunks: 1}},
			wantStatus: StatusSuccessful, wantCounts: ValueCounts{Built: 4, Valid: 4}, wantPushed: 4,
		},
		{
			name:       "dry run passes the flag",
			dhis:       &fakeDHIS2{md: specMetadata(), result: dhis2.ImportResult{Status: dhis2.ImportSuccess, Imported: 4, Chunks: 1}},
			dryRun:     true,
			wantStatus: StatusSuccessful, wantCounts: ValueCounts{Built: 4, Valid: 4}, wantPushed: 4,
		},
		{
			name:       "org unit not assigned: its values are not sent",
			dhis:       &fakeDHIS2{md: unassigned, result: dhis2.ImportResult{Status: dhis2.ImportSuccess, Imported: 2, Chunks: 1}},
			wantStatus: StatusCompletedWithErrors, wantCounts: ValueCounts{Built: 4, Valid: 2, Rejected: 2}, wantPushed: 2,
			wantProblems: []string{"org_unit_not_assigned/ouHc0000001/deBirths001", "org_unit_not_assigned/ouHc0000001/deFacDel001"},
		},
		{
			name:       "non-numeric data element",
			dhis:       &fakeDHIS2{md: text, result: dhis2.ImportResult{Status: dhis2.ImportSuccess, Imported: 2, Chunks: 1}},
			wantStatus: StatusCompletedWithErrors, wantCounts: ValueCounts{Built: 4, Valid: 2, Rejected: 2}, wantPushed: 2,
			wantProblems: []string{"data_element_not_numeric/ouDistrict1/deBirths001", "data_element_not_numeric/ouHc0000001/deBirths001"},
		},
		{
			name:       "period of the wrong type: nothing pushed",
			dhis:       &fakeDHIS2{md: weekly},
			wantStatus: StatusFailed, wantCounts: ValueCounts{Built: 4, Rejected: 4}, wantPushed: 0,
			wantProblems: []string{"period_type_mismatch/ouDistrict1/deBirths001", "period_type_mismatch/ouDistrict1/deFacDel001",
				"period_type_mismatch/ouHc0000001/deBirths001", "period_type_mismatch/ouHc0000001/deFacDel001"},
		},
		{
			name:       "DHIS2 conflict on one value",
			dhis:       &fakeDHIS2{md: specMetadata(), result: conflictAt("E7640", 3)},
			wantStatus: StatusCompletedWithErrors, wantCounts: ValueCounts{Built: 4, Valid: 4, Rejected: 1}, wantPushed: 4,
			wantProblems: []string{"dhis2_conflict/ouHc0000001/deFacDel001"},
		},
		{
			name:       "rejected as a whole",
			dhis:       &fakeDHIS2{md: specMetadata(), result: dhis2.ImportResult{Status: dhis2.ImportError, Description: "Import process was aborted", Chunks: 1, RejectedIndexes: []int{0, 1, 2, 3}}},
			wantStatus: StatusFailed, wantCounts: ValueCounts{Built: 4, Valid: 4, Rejected: 4}, wantPushed: 4,
		},
		{
			name: "push stopped after a written chunk",
			dhis: &fakeDHIS2{md: specMetadata(), result: dhis2.ImportResult{Status: dhis2.ImportSuccess, Imported: 2, Chunks: 1},
				pushErr: &dhis2.PushError{Chunk: 2, Chunks: 2, First: 2, Last: 3, Sent: 2, Total: 4, Err: errors.New("dhis2: status 500")}},
			wantStatus: StatusCompletedWithErrors, wantCounts: ValueCounts{Built: 4, Valid: 4, NotSent: 2}, wantPushed: 4,
			wantProblems: []string{"not_sent/ouHc0000001/deBirths001", "not_sent/ouHc0000001/deFacDel001"},
			wantError:    "the push to DHIS2 stopped part-way: 2 of 4 values not sent: dhis2: status 500",
		},
		{
			name: "push stopped before anything was written",
			dhis: &fakeDHIS2{md: specMetadata(),
				pushErr: &dhis2.PushError{Chunk: 1, Chunks: 1, First: 0, Last: 3, Total: 4, Err: errors.New("dhis2: status 500")}},
			wantStatus: StatusFailed, wantCounts: ValueCounts{Built: 4, Valid: 4, NotSent: 4}, wantPushed: 4,
			wantProblems: []string{"not_sent/ouDistrict1/deBirths001", "not_sent/ouDistrict1/deFacDel001",
				"not_sent/ouHc0000001/deBirths001", "not_sent/ouHc0000001/deFacDel001"},
			wantError: "4 of 4 values not sent",
		},
		{
			name:    "credentials refused",
			dhis:    &fakeDHIS2{md: specMetadata(), pushErr: dhis2.ErrUnauthorized},
			wantErr: "push to DHIS2",
		},
		{
			name:    "metadata unreadable",
			dhis:    &fakeDHIS2{mdErr: errors.New("dhis2: unreachable")},
			wantErr: "read DHIS2 metadata: dhis2: unreachable",
		},
		{
			name:    "data set missing in DHIS2",
			dhis:    &fakeDHIS2{mdErr: dhis2.ErrDataSetNotFound},
			wantErr: `data set "dsMonthly01" is in CHT's dhis_data_sets but not in DHIS2`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := newExportService(t, tt.dhis).Export(context.Background(), ExportRequest{Request: Request{DataSet: "dsMonthly01", Period: june(t)}, DryRun: tt.dryRun})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Export = %v, %v; want error %q", rep, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Export = %v", err)
			}
			if rep.Status != tt.wantStatus {
				t.Errorf("status = %q; want %q (error %q)", rep.Status, tt.wantStatus, rep.Error)
			}
			if rep.DataValues != tt.wantCounts {
				t.Errorf("counts = %+v; want %+v", rep.DataValues, tt.wantCounts)
			}
			if len(tt.dhis.pushed) != tt.wantPushed {
				t.Errorf("pushed %d values; want %d", len(tt.dhis.pushed), tt.wantPushed)
			}
			if tt.wantPushed > 0 && (tt.dhis.opts.DryRun != tt.dryRun || tt.dhis.opts.DataSet != "dsMonthly01") {
				t.Errorf("push options = %+v", tt.dhis.opts)
			}
			for _, v := range tt.dhis.pushed {
				if v.Period != "202406" || v.OrgUnit == "" || v.Value == "" {
					t.Errorf("pushed value not fully qualified: %+v", v)
				}
			}
			var got []string
			for _, p := range rep.Problems {
				got = append(got, p.Code+"/"+p.OrgUnit+"/"+p.DataElement)
				if p.Message == "" {
					t.Errorf("problem %+v has no message", p)
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.wantProblems, " ") {
				t.Errorf("problems = %v; want %v", got, tt.wantProblems)
			}
			if !strings.Contains(rep.Error, tt.wantError) {
				t.Errorf("error = %q; want it to contain %q", rep.Error, tt.wantError)
			}
			if (rep.Cause != nil) != (rep.DataValues.NotSent > 0) {
				t.Errorf("cause = %v with %d values not sent", rep.Cause, rep.DataValues.NotSent)
			}
			if rep.Status != StatusSuccessful && rep.Error == "" && len(rep.Problems) == 0 {
				t.Error("an unsuccessful report says neither error nor problems")
			}
		})
	}
}

func TestService_Export_conflictValues(t *testing.T) {
	d := &fakeDHIS2{md: specMetadata(), result: dhis2.ImportResult{Status: dhis2.ImportWarning, Imported: 3, Chunks: 1, RejectedIndexes: []int{0},
		Conflicts: []dhis2.Conflict{{ErrorCode: "E7641", Value: "Period is after latest open future period", Indexes: []int{0, 99}}}}}
	rep, err := newExportService(t, d).Export(context.Background(), ExportRequest{Request: Request{DataSet: "dsMonthly01", Period: june(t)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Import.Conflicts) != 1 || len(rep.Import.Conflicts[0].Values) != 1 {
		t.Fatalf("conflicts = %+v; want one with one value (index 99 is out of range)", rep.Import.Conflicts)
	}
	c := rep.Import.Conflicts[0]
	if c.ErrorCode != "E7641" || c.Values[0].OrgUnit != d.pushed[0].OrgUnit || c.Values[0].DataElement != d.pushed[0].DataElement {
		t.Errorf("conflict = %+v; want E7641 on %+v", c, d.pushed[0])
	}
}

func TestService_Export_noDHIS2(t *testing.T) {
	s := newService(t, specExample())
	if _, err := s.Export(context.Background(), ExportRequest{Request: Request{DataSet: "dsMonthly01", Period: june(t)}}); err == nil {
		t.Error("Export without DHIS2 = nil error")
	}
}
