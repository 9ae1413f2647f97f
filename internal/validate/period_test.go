package validate

import (
	"errors"
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		in, start, end, iso string
	}{
		{"202401", "2024-01-01", "2024-01-31", "202401"},
		{"2024-02", "2024-02-01", "2024-02-29", "202402"},
		{"202302", "2023-02-01", "2023-02-28", "202302"},
		{"202312", "2023-12-01", "2023-12-31", "202312"},
		{"000101", "0001-01-01", "0001-01-31", "000101"},
	}
	for _, tc := range tests {
		p, err := ParsePeriod(tc.in)
		if err != nil {
			t.Errorf("ParsePeriod(%q): %v", tc.in, err)
			continue
		}
		want := Period{Type: PeriodTypeMonthly, Start: day(tc.start), End: day(tc.end), ISO: tc.iso}
		if p != want {
			t.Errorf("ParsePeriod(%q) = %+v; want %+v", tc.in, p, want)
		}
	}
}

func TestParsePeriod_bad(t *testing.T) {
	tests := []struct {
		in, typ, reason string
	}{
		{"", "", "it is empty"},
		{"202413", "", "there is no month 13 (months run from 01 to 12)"},
		{"202400", "", "there is no month 00 (months run from 01 to 12)"},
		{"2024-1", "", "it is not a monthly DHIS2 period (expected the form 202401 or 2024-01)"},
		{"June 2024", "", "it is not a monthly DHIS2 period (expected the form 202401 or 2024-01)"},
		{" 202401", "", "it is not a monthly DHIS2 period (expected the form 202401 or 2024-01)"},
		{"20240315", "Daily", "it is a Daily period, and the mediator only builds monthly values (such as 202401)"},
		{"2024-03-15", "Daily", "it is a Daily period, and the mediator only builds monthly values (such as 202401)"},
		{"2024W05", "Weekly", "it is a Weekly period, and the mediator only builds monthly values (such as 202401)"},
		{"2024SunW1", "Weekly (starting on another day)", "it is a Weekly (starting on another day) period, and the mediator only builds monthly values (such as 202401)"},
		{"2024BiW2", "BiWeekly", "it is a BiWeekly period, and the mediator only builds monthly values (such as 202401)"},
		{"202402B", "BiMonthly", "it is a BiMonthly period, and the mediator only builds monthly values (such as 202401)"},
		{"2024NovQ1", "Quarterly", "it is a Quarterly period, and the mediator only builds monthly values (such as 202401)"},
		{"2024AprilS2", "SixMonthly", "it is a SixMonthly period, and the mediator only builds monthly values (such as 202401)"},
		{"2024", "Yearly", "it is a Yearly period, and the mediator only builds monthly values (such as 202401)"},
		{"2024July", "Financial year", "it is a Financial year period, and the mediator only builds monthly values (such as 202401)"},
	}
	for _, tc := range tests {
		_, err := ParsePeriod(tc.in)
		var pe *PeriodError
		if !errors.As(err, &pe) || pe.Period != tc.in || pe.Type != tc.typ || pe.Reason != tc.reason {
			t.Errorf("ParsePeriod(%q) = %#v; want a *PeriodError of type %q saying %q", tc.in, err, tc.typ, tc.reason)
		}
	}
}

func TestPeriod_Shift(t *testing.T) {
	p, _ := ParsePeriod("202401")
	for n, want := range map[int]string{0: "202401", 1: "202402", -1: "202312", 11: "202412", 12: "202501", -13: "202212", 25: "202602"} {
		if got := p.Shift(n).ISO; got != want {
			t.Errorf("202401.Shift(%d) = %s; want %s", n, got, want)
		}
	}
	if got := monthAt(time.Date(2024, 2, 29, 23, 59, 0, 0, time.UTC)).ISO; got != "202402" {
		t.Errorf("monthAt(2024-02-29) = %s", got)
	}
}
