package export

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/dhis2"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/validate"
)

// fakeManager is a DHIS2 target that also answers the data management
// calls: who the mediator is, DHIS2's clock, what DHIS2 holds, approvals
// and completeness registrations.
type fakeManager struct {
	md        validate.Metadata
	me        dhis2.User
	serverNow time.Time
	stored    []validate.Stored
	readErr   error
	approvals []dhis2.Approval
	appErr    error
	complete  []dhis2.Registration
	regRes    dhis2.ImportResult
	regErr    error
	// push answers push number n (0-based); nil: everything imported.
	push func(n int, values []validate.Value, opts dhis2.PushOptions) (dhis2.ImportResult, error)

	pushes     [][]validate.Value
	pushOpts   []dhis2.PushOptions
	registered []dhis2.Registration
	scope      dhis2.DataScope
}

func (f *fakeManager) Metadata(context.Context, string) (validate.Metadata, error) { return f.md, nil }

func (f *fakeManager) PushDataValues(_ context.Context, values []validate.Value, opts dhis2.PushOptions) (dhis2.ImportResult, error) {
	n := len(f.pushes)
	f.pushes, f.pushOpts = append(f.pushes, values), append(f.pushOpts, opts)
	if f.push != nil {
		return f.push(n, values, opts)
	}
	r := dhis2.ImportResult{Status: dhis2.ImportSuccess, Imported: len(values), Chunks: 1}
	if opts.Delete {
		r.Imported, r.Deleted = 0, len(values)
	}
	return r, nil
}

func (f *fakeManager) Me(context.Context) (dhis2.User, error) { return f.me, nil }
func (f *fakeManager) ServerNow(context.Context) (time.Time, bool, error) {
	return f.serverNow, !f.serverNow.IsZero(), nil
}
func (f *fakeManager) DataValues(_ context.Context, _, _ string, scope dhis2.DataScope) ([]validate.Stored, error) {
	f.scope = scope
	return f.stored, f.readErr
}
func (f *fakeManager) Registrations(context.Context, string, string, []string) ([]dhis2.Registration, error) {
	return f.complete, nil
}
func (f *fakeManager) RegisterComplete(_ context.Context, regs []dhis2.Registration, _ bool) (dhis2.ImportResult, error) {
	f.registered = append(f.registered, regs...)
	if f.regRes.Status == "" && f.regErr == nil {
		return dhis2.ImportResult{Status: dhis2.ImportSuccess, Imported: len(regs), Chunks: 1}, nil
	}
	return f.regRes, f.regErr
}
func (f *fakeManager) Approvals(context.Context, string, string, []string) ([]dhis2.Approval, error) {
	return f.approvals, f.appErr
}

const me = "cht-mediator"

// held is what DHIS2 holds after a first export of the spec example.
func held(by string) []validate.Stored {
	return []validate.Stored{
		{DataElement: "deBirths001", Period: "202406", OrgUnit: "ouDistrict1", CategoryOptionCombo: "HllvX50cXC0", AttributeOptionCombo: "HllvX50cXC0", Value: "3", StoredBy: by},
		{DataElement: "deFacDel001", Period: "202406", OrgUnit: "ouDistrict1", CategoryOptionCombo: "cocUnder5aa", AttributeOptionCombo: "HllvX50cXC0", Value: "5", StoredBy: by},
		{DataElement: "deBirths001", Period: "202406", OrgUnit: "ouHc0000001", CategoryOptionCombo: "HllvX50cXC0", AttributeOptionCombo: "HllvX50cXC0", Value: "3", StoredBy: by},
		{DataElement: "deFacDel001", Period: "202406", OrgUnit: "ouHc0000001", CategoryOptionCombo: "cocUnder5aa", AttributeOptionCombo: "HllvX50cXC0", Value: "5", StoredBy: by},
	}
}

func registeredOUs(f *fakeManager) []string {
	var out []string
	for _, r := range f.registered {
		out = append(out, r.OrgUnit)
	}
	slices.Sort(out)
	return out
}

func TestService_Export_dataManagement(t *testing.T) {
	approvalMD := specMetadata()
	approvalMD.DataSet.Workflow = "wfMonthly01"
	expiring := specMetadata()
	expiring.DataSet.ExpiryDays = 10
	stale := append(held(me), validate.Stored{DataElement: "deBirths001", Period: "202406", OrgUnit: "ouGone00001", Value: "9", StoredBy: me},
		validate.Stored{DataElement: "deBirths001", Period: "202406", OrgUnit: "ouGone00001", CategoryOptionCombo: "cocUnder5aa", Value: "4", StoredBy: "clerk"},
		validate.Stored{DataElement: "deBirths001", Period: "202406", OrgUnit: "ouOther0001", Value: "4", StoredBy: me})
	// ouGone00001 is still assigned to the data set, but CHT no longer
	// maps it; ouOther0001 holds a value and is not assigned at all.
	gone := specMetadata()
	gone.OrgUnits["ouGone00001"] = true
	changedByClerk := held(me)
	changedByClerk[0].Value, changedByClerk[0].StoredBy = "30", "clerk"
	// 2.43 refuses the whole data set group for one approved org unit.
	groupRefusal := func(n int, values []validate.Value, _ dhis2.PushOptions) (dhis2.ImportResult, error) {
		hc := slices.IndexFunc(values, func(v validate.Value) bool { return v.OrgUnit == "ouHc0000001" }) >= 0
		if !hc {
			return dhis2.ImportResult{Status: dhis2.ImportSuccess, Updated: len(values), Chunks: 1}, nil
		}
		idx := make([]int, len(values))
		for i := range idx {
			idx[i] = i
		}
		return dhis2.ImportResult{Status: dhis2.ImportError, Ignored: len(values), Chunks: 1, RejectedIndexes: idx,
			Conflicts: []dhis2.Conflict{{ErrorCode: "E8033", Value: "Data is already approved", Indexes: idx}}}, nil
	}

	tests := []struct {
		name       string
		f          *fakeManager
		data       DataOptions
		wantStatus string
		wantPushes []int    // values per push, deletions flagged by a negative count
		wantRegs   []string // org units registered
		wantCodes  []string // problem codes
		check      func(t *testing.T, f *fakeManager, rep *Report)
	}{
		{
			name:       "first export: all new, every org unit registered",
			f:          &fakeManager{md: specMetadata(), me: dhis2.User{Username: me}},
			wantStatus: StatusSuccessful, wantPushes: []int{4}, wantRegs: []string{"ouDistrict1", "ouHc0000001"},
		},
		{
			name:       "re-run, nothing changed: nothing sent, already complete",
			f:          &fakeManager{md: specMetadata(), me: dhis2.User{Username: me}, stored: held(me), complete: []dhis2.Registration{{DataSet: "dsMonthly01", Period: "202406", OrgUnit: "ouDistrict1", AttributeOptionCombo: "HllvX50cXC0", Completed: true}, {DataSet: "dsMonthly01", Period: "202406", OrgUnit: "ouHc0000001", Completed: true}}},
			wantStatus: StatusSuccessful,
			check: func(t *testing.T, f *fakeManager, rep *Report) {
				if rep.Import != nil || rep.Changes.Unchanged != 4 || len(rep.Completeness.AlreadyComplete) != 2 {
					t.Errorf("import %+v, changes %+v, completeness %+v; want nothing sent, 4 unchanged, 2 already complete", rep.Import, rep.Changes, rep.Completeness)
				}
			},
		},
		{
			name:       "own stale value deleted, another user's left alone",
			f:          &fakeManager{md: gone, me: dhis2.User{Username: me, OrgUnits: []string{"ouRoot00001"}}, stored: stale},
			wantStatus: StatusSuccessful, wantPushes: []int{-1}, wantRegs: []string{"ouDistrict1", "ouHc0000001"},
			check: func(t *testing.T, f *fakeManager, rep *Report) {
				if d := f.pushes[0][0]; d.OrgUnit != "ouGone00001" || d.Value != "9" || !f.pushOpts[0].Delete {
					t.Errorf("deleted %+v (options %+v); want ouGone00001's 9 with importStrategy DELETE", d, f.pushOpts[0])
				}
				if rep.Import == nil || rep.Import.Deleted != 1 || rep.Changes.Deleted != 1 || len(f.pushes[0]) != 1 {
					t.Errorf("import %+v, changes %+v; want one deletion (not the clerk's, not the unassigned org unit's)", rep.Import, rep.Changes)
				}
				if s := f.scope; !slices.Equal(s.OrgUnits, []string{"ouRoot00001"}) || !s.Children {
					t.Errorf("read scope %+v; want below the user's own org units", s)
				}
			},
		},
		{
			name:       "a clerk's value is kept: Completed with error(s), no registration when ready",
			f:          &fakeManager{md: specMetadata(), me: dhis2.User{Username: me}, stored: changedByClerk},
			wantStatus: StatusCompletedWithErrors, wantCodes: []string{"value_kept"},
		},
		{
			name:       "always: the org units without a kept value are registered",
			f:          &fakeManager{md: specMetadata(), me: dhis2.User{Username: me}, stored: changedByClerk},
			data:       DataOptions{CompleteRegistration: CompleteAlways, DeleteStale: true},
			wantStatus: StatusCompletedWithErrors, wantCodes: []string{"value_kept"}, wantRegs: []string{"ouHc0000001"},
		},
		{
			name:       "never registers",
			f:          &fakeManager{md: specMetadata(), me: dhis2.User{Username: me}},
			data:       DataOptions{CompleteRegistration: CompleteNever},
			wantStatus: StatusSuccessful, wantPushes: []int{4},
		},
		{
			name:       "approved org unit held back before the push",
			f:          &fakeManager{md: approvalMD, me: dhis2.User{Username: me}, approvals: []dhis2.Approval{{OrgUnit: "ouHc0000001", AttributeOptionCombo: "HllvX50cXC0", State: "APPROVED_ABOVE"}, {OrgUnit: "ouHc0000001", State: "APPROVED_HERE"}}},
			data:       DataOptions{CompleteRegistration: CompleteAlways},
			wantStatus: StatusCompletedWithErrors, wantPushes: []int{2}, wantRegs: []string{"ouDistrict1"}, wantCodes: []string{"data_approved"},
		},
		{
			name:       "approvals unreadable: sent, DHIS2 decides",
			f:          &fakeManager{md: approvalMD, me: dhis2.User{Username: me}, appErr: errors.New("dhis2: status 403")},
			wantStatus: StatusSuccessful, wantPushes: []int{4}, wantRegs: []string{"ouDistrict1", "ouHc0000001"},
		},
		{
			name:       "2.43 group refusal: sent again org unit by org unit",
			f:          &fakeManager{md: specMetadata(), me: dhis2.User{Username: me}, push: groupRefusal},
			data:       DataOptions{CompleteRegistration: CompleteAlways},
			wantStatus: StatusCompletedWithErrors, wantPushes: []int{4, 2, 2}, wantRegs: []string{"ouDistrict1"},
			wantCodes: []string{"dhis2_conflict", "dhis2_conflict"},
			check: func(t *testing.T, f *fakeManager, rep *Report) {
				if imp := rep.Import; imp.Updated != 2 || imp.Ignored != 2 || len(imp.Conflicts) != 1 || len(imp.Conflicts[0].Values) != 2 || rep.DataValues.Rejected != 2 {
					t.Errorf("import %+v, counts %+v; want ouDistrict1's 2 stored, ouHc0000001's 2 refused", imp, rep.DataValues)
				}
				for _, p := range rep.Problems {
					if p.OrgUnit != "ouHc0000001" || !strings.Contains(p.Message, "unapprove") {
						t.Errorf("problem %+v; want ouHc0000001's, with the fix", p)
					}
				}
			},
		},
		{
			name:       "locked by DHIS2's clock (not the local one): warned, still sent",
			f:          &fakeManager{md: expiring, me: dhis2.User{Username: me}, serverNow: time.Date(2024, 7, 20, 0, 0, 0, 0, time.UTC)},
			wantStatus: StatusSuccessful, wantPushes: []int{4}, wantRegs: []string{"ouDistrict1", "ouHc0000001"}, wantCodes: []string{"period_locked"},
		},
		{
			name:       "registration refused: Completed with error(s)",
			f:          &fakeManager{md: specMetadata(), me: dhis2.User{Username: me}, regRes: dhis2.ImportResult{Status: dhis2.ImportError, Ignored: 2, Conflicts: []dhis2.Conflict{{Object: "ouHc0000001", Value: "Organisation unit is not in hierarchy of user"}}}},
			wantStatus: StatusCompletedWithErrors, wantPushes: []int{4}, wantRegs: []string{"ouDistrict1", "ouHc0000001"}, wantCodes: []string{"complete_registration_failed"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data
			if data == (DataOptions{}) {
				data = DataOptions{CompleteRegistration: CompleteWhenReady, DeleteStale: true}
			}
			s := newExportService(t, tt.f)
			s.data = data
			rep, err := s.Export(context.Background(), ExportRequest{Request: Request{DataSet: "dsMonthly01", Period: june(t)}})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Status != tt.wantStatus {
				t.Errorf("status %q; want %q (problems %+v)", rep.Status, tt.wantStatus, rep.Problems)
			}
			var pushes []int
			for i, p := range tt.f.pushes {
				n := len(p)
				if tt.f.pushOpts[i].Delete {
					n = -n
				}
				pushes = append(pushes, n)
			}
			if !slices.Equal(pushes, tt.wantPushes) {
				t.Errorf("pushes %v; want %v", pushes, tt.wantPushes)
			}
			if got := registeredOUs(tt.f); !slices.Equal(got, tt.wantRegs) {
				t.Errorf("registered %v; want %v", got, tt.wantRegs)
			}
			var codes []string
			for _, p := range rep.Problems {
				codes = append(codes, p.Code)
			}
			if !slices.Equal(codes, tt.wantCodes) {
				t.Errorf("problems %v; want %v (%+v)", codes, tt.wantCodes, rep.Problems)
			}
			if tt.check != nil {
				tt.check(t, tt.f, rep)
			}
		})
	}
}

// Without knowing what DHIS2 holds nothing is pushed: a failed read fails
// the export, as a failed metadata read does.
func TestService_Export_readFails(t *testing.T) {
	f := &fakeManager{md: specMetadata(), me: dhis2.User{Username: me}, readErr: errors.New("dhis2: read data values: status 500")}
	_, err := newExportService(t, f).Export(context.Background(), ExportRequest{Request: Request{DataSet: "dsMonthly01", Period: june(t)}})
	if err == nil || !strings.Contains(err.Error(), "read what DHIS2 holds") || len(f.pushes) != 0 {
		t.Errorf("Export = %v after %d pushes; want the read error and no push", err, len(f.pushes))
	}
}

func TestConflictHint(t *testing.T) {
	for code, want := range map[string]string{"E7640": "lock exception", "E8032": "lock exception", "E7642": "unapprove", "E8033": "unapprove",
		"E7643": "closed for data entry", "E8030": "closed for data entry", "E7641": "not open yet", "E7619": ""} {
		if got := conflictHint(code); (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("conflictHint(%s) = %q; want it to contain %q", code, got, want)
		}
	}
}
