package validate

import (
	"strings"
	"testing"
	"time"
)

func TestLocks_expiryDays(t *testing.T) {
	eat := time.FixedZone("EAT", 3*3600)
	tests := []struct {
		expiry      int
		now         time.Time
		editExpired bool
		locked      bool
	}{
		{0, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), false, false},
		{-5, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), false, false},
		// 202401 ends 2024-01-31; with 10 expiry days it locks after 2024-02-10 00:00.
		{10, time.Date(2024, 2, 9, 23, 59, 59, 0, time.UTC), false, false},
		{10, time.Date(2024, 2, 10, 0, 0, 0, 0, time.UTC), false, false},
		{10, time.Date(2024, 2, 10, 0, 0, 0, 1, time.UTC), false, true},
		{10, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), false, true},
		{10, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), true, false},
		// now is read on the wall clock of its own location.
		{10, time.Date(2024, 2, 10, 0, 30, 0, 0, eat), false, true},
		{10, time.Date(2024, 2, 10, 0, 30, 0, 0, eat).UTC(), false, false},
	}
	for _, tc := range tests {
		md := chwMetadata()
		md.DataSet.ExpiryDays = tc.expiry
		v := Locks(md, "202401", tc.now, tc.editExpired)
		got := len(v.Problems) == 1 && v.Problems[0].Code == CodePeriodLocked
		if got != tc.locked || (!tc.locked && len(v.Problems) != 0) || v.Refused {
			t.Errorf("expiryDays %d at %v (editExpired %t): %+v; want locked=%v and never refused", tc.expiry, tc.now, tc.editExpired, v, tc.locked)
		}
		if got {
			want := "period 202401 locked since 2024-02-10 (expiry 10 days) by DHIS2's clock: ask a DHIS2 administrator for a lock exception for these org units; the values are sent anyway and DHIS2 decides"
			if v.Problems[0].Message != want || v.Problems[0].Period != "202401" {
				t.Errorf("problem %+v; want message %q", v.Problems[0], want)
			}
		}
	}
}

func TestLocks_dataInputPeriods(t *testing.T) {
	day := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
	ips := []DataInputPeriod{
		{Period: "202401", OpeningDate: day("2024-02-01"), ClosingDate: day("2024-02-15")},
		{Period: "202402"}, // no dates: open whenever
	}
	tests := []struct {
		period  string
		now     time.Time
		refused bool
		says    string
	}{
		{"202401", time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), false, ""},
		{"202401", time.Date(2024, 2, 15, 23, 0, 0, 0, time.UTC), false, ""},
		{"202401", time.Date(2024, 1, 31, 23, 0, 0, 0, time.UTC), true, "opens for data entry on 2024-02-01"},
		{"202401", time.Date(2024, 2, 16, 0, 0, 0, 0, time.UTC), true, "closed for data entry on 2024-02-15"},
		{"202402", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), false, ""},
		{"202403", time.Date(2024, 4, 2, 0, 0, 0, 0, time.UTC), true, "not one of the data input periods"},
	}
	for _, tc := range tests {
		md := chwMetadata()
		md.DataSet.DataInputPeriods = ips
		md.DataSet.ExpiryDays = 1 // input periods decide first
		v := Locks(md, tc.period, tc.now, true)
		if v.Refused != tc.refused {
			t.Errorf("%s at %v: refused=%t; want %t (%+v)", tc.period, tc.now, v.Refused, tc.refused, v.Problems)
			continue
		}
		if tc.refused && (len(v.Problems) != 1 || v.Problems[0].Code != CodePeriodNotOpen || !strings.Contains(v.Problems[0].Message, tc.says)) {
			t.Errorf("%s at %v: problems %+v; want one %s saying %q", tc.period, tc.now, v.Problems, CodePeriodNotOpen, tc.says)
		}
	}
}

func TestIsZeroAndStoresZero(t *testing.T) {
	for s, want := range map[string]bool{"0": true, "0.0": true, "0.": true, " 0 ": true, "00": false, "-0": false, "0.01": false, "": false} {
		if IsZero(s) != want {
			t.Errorf("IsZero(%q) = %t; want %t", s, !want, want)
		}
	}
	tests := []struct {
		de   DataElement
		want bool
	}{
		{DataElement{ValueType: "NUMBER", AggregationType: "SUM"}, false},
		{DataElement{ValueType: "NUMBER", ZeroIsSignificant: true}, true},
		{DataElement{ValueType: "INTEGER", AggregationType: "AVERAGE"}, true},
		{DataElement{ValueType: "INTEGER", AggregationType: "AVERAGE_SUM_ORG_UNIT"}, true},
		{DataElement{ValueType: "INTEGER_POSITIVE", ZeroIsSignificant: true}, false},
		{DataElement{ValueType: "INTEGER_NEGATIVE", AggregationType: "AVERAGE"}, false},
	}
	for _, tc := range tests {
		if got := tc.de.StoresZero(); got != tc.want {
			t.Errorf("%+v.StoresZero() = %t; want %t", tc.de, got, tc.want)
		}
	}
}

// A zero for INTEGER_POSITIVE means "nothing" and passes Check; a negative
// still does not.
func TestCheck_zeroForPositiveInteger(t *testing.T) {
	md := chwMetadata()
	de := md.DataElements["deANC000001"]
	de.ValueType = "INTEGER_POSITIVE"
	md.DataElements["deANC000001"] = de
	valid, ps := Check(md, []Value{val("deANC000001", "202401", "ouHC0000001", "0"), val("deANC000001", "202401", "ouHC0000002", "-1")}, time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC))
	if len(valid) != 1 || valid[0].Value != "0" || len(ps) != 1 || ps[0].Code != CodeValueSign {
		t.Errorf("valid %+v, problems %v; want the zero valid and the negative refused", valid, codes(ps))
	}
}
