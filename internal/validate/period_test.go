package validate

import (
	"errors"
	"fmt"
	"strings"
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

func TestParsePeriod_good(t *testing.T) {
	tests := []struct {
		in, typ, start, end, iso string
	}{
		// Daily
		{"20240315", "Daily", "2024-03-15", "2024-03-15", "20240315"},
		{"2024-03-15", "Daily", "2024-03-15", "2024-03-15", "20240315"},
		{"20240229", "Daily", "2024-02-29", "2024-02-29", "20240229"},
		{"20241231", "Daily", "2024-12-31", "2024-12-31", "20241231"},
		// Weekly: ISO weeks, Monday start, week 1 holds January 4.
		{"2024W1", "Weekly", "2024-01-01", "2024-01-07", "2024W1"},
		{"2024W05", "Weekly", "2024-01-29", "2024-02-04", "2024W5"},
		{"2024W52", "Weekly", "2024-12-23", "2024-12-29", "2024W52"},
		{"2015W1", "Weekly", "2014-12-29", "2015-01-04", "2015W1"},
		{"2020W53", "Weekly", "2020-12-28", "2021-01-03", "2020W53"},
		// WeeklyWednesday/Thursday/Friday/Saturday/Sunday: same rule, other start day.
		{"2015WedW5", "WeeklyWednesday", "2015-01-28", "2015-02-03", "2015WedW5"},
		{"2015WedW1", "WeeklyWednesday", "2014-12-31", "2015-01-06", "2015WedW1"},
		{"2024WedW01", "WeeklyWednesday", "2024-01-03", "2024-01-09", "2024WedW1"},
		{"2024ThuW1", "WeeklyThursday", "2024-01-04", "2024-01-10", "2024ThuW1"},
		{"2024ThuW52", "WeeklyThursday", "2024-12-26", "2025-01-01", "2024ThuW52"},
		{"2025FriW3", "WeeklyFriday", "2025-01-17", "2025-01-23", "2025FriW3"},
		{"2024SatW1", "WeeklySaturday", "2023-12-30", "2024-01-05", "2024SatW1"},
		{"2024SunW1", "WeeklySunday", "2023-12-31", "2024-01-06", "2024SunW1"},
		{"2020SunW53", "WeeklySunday", "2020-12-27", "2021-01-02", "2020SunW53"},
		// BiWeekly: bi-week n starts at ISO week 2n−1.
		{"2024BiW1", "BiWeekly", "2024-01-01", "2024-01-14", "2024BiW1"},
		{"2024BiW02", "BiWeekly", "2024-01-15", "2024-01-28", "2024BiW2"},
		{"2024BiW26", "BiWeekly", "2024-12-16", "2024-12-29", "2024BiW26"},
		{"2020BiW27", "BiWeekly", "2020-12-28", "2021-01-10", "2020BiW27"},
		// Monthly
		{"202401", "Monthly", "2024-01-01", "2024-01-31", "202401"},
		{"2024-02", "Monthly", "2024-02-01", "2024-02-29", "202402"},
		{"202302", "Monthly", "2023-02-01", "2023-02-28", "202302"},
		{"202312", "Monthly", "2023-12-01", "2023-12-31", "202312"},
		// BiMonthly: MM is the bi-month index.
		{"202401B", "BiMonthly", "2024-01-01", "2024-02-29", "202401B"},
		{"202402B", "BiMonthly", "2024-03-01", "2024-04-30", "202402B"},
		{"202406B", "BiMonthly", "2024-11-01", "2024-12-31", "202406B"},
		// Quarterly
		{"2024Q1", "Quarterly", "2024-01-01", "2024-03-31", "2024Q1"},
		{"2024Q4", "Quarterly", "2024-10-01", "2024-12-31", "2024Q4"},
		// QuarterlyNov: named by the year the cycle ends in.
		{"2024NovQ1", "QuarterlyNov", "2023-11-01", "2024-01-31", "2024NovQ1"},
		{"2024NovQ2", "QuarterlyNov", "2024-02-01", "2024-04-30", "2024NovQ2"},
		{"2024NovQ4", "QuarterlyNov", "2024-08-01", "2024-10-31", "2024NovQ4"},
		// SixMonthly, SixMonthlyApril, SixMonthlyNov
		{"2024S1", "SixMonthly", "2024-01-01", "2024-06-30", "2024S1"},
		{"2024S2", "SixMonthly", "2024-07-01", "2024-12-31", "2024S2"},
		{"2024AprilS1", "SixMonthlyApril", "2024-04-01", "2024-09-30", "2024AprilS1"},
		{"2024AprilS2", "SixMonthlyApril", "2024-10-01", "2025-03-31", "2024AprilS2"},
		{"2024NovS1", "SixMonthlyNov", "2023-11-01", "2024-04-30", "2024NovS1"},
		{"2024NovS2", "SixMonthlyNov", "2024-05-01", "2024-10-31", "2024NovS2"},
		// Yearly and financial years
		{"2024", "Yearly", "2024-01-01", "2024-12-31", "2024"},
		{"2024April", "FinancialApril", "2024-04-01", "2025-03-31", "2024April"},
		{"2024July", "FinancialJuly", "2024-07-01", "2025-06-30", "2024July"},
		{"2024Oct", "FinancialOct", "2024-10-01", "2025-09-30", "2024Oct"},
		{"2024Nov", "FinancialNov", "2023-11-01", "2024-10-31", "2024Nov"},
		{"2024Sep", "FinancialSep", "2024-09-01", "2025-08-31", "2024Sep"},
		{"2024Aug", "FinancialAug", "2024-08-01", "2025-07-31", "2024Aug"},
		{"2024Feb", "FinancialFeb", "2024-02-01", "2025-01-31", "2024Feb"},
		{"2023Feb", "FinancialFeb", "2023-02-01", "2024-01-31", "2023Feb"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p, err := ParsePeriod(tc.in)
			if err != nil {
				t.Fatalf("ParsePeriod(%q) error: %v", tc.in, err)
			}
			want := Period{Type: tc.typ, Start: day(tc.start), End: day(tc.end), ISO: tc.iso}
			if p != want {
				t.Errorf("ParsePeriod(%q) = %+v; want %+v", tc.in, p, want)
			}
			if p.String() != tc.iso {
				t.Errorf("String() = %q; want %q", p.String(), tc.iso)
			}
			if q, err := PeriodOfType(tc.typ, tc.in); err != nil || q != want {
				t.Errorf("PeriodOfType(%q, %q) = %+v, %v", tc.typ, tc.in, q, err)
			}
		})
	}
}

func TestParsePeriod_bad(t *testing.T) {
	tests := []struct {
		in, reason string // reason: substring of the error
	}{
		{"", "it is empty"},
		{"abcd", "not a DHIS2 ISO period"},
		{"24", "not a DHIS2 ISO period"},
		{"２０２４01", "not a DHIS2 ISO period"},
		{"١٢٣٤01", "not a DHIS2 ISO period"},
		{"2024 ", "not a DHIS2 ISO period"},
		{" 2024", "not a DHIS2 ISO period"},
		{"20245", "not a DHIS2 ISO period"},
		{"2024X1", "not a DHIS2 ISO period"},
		// Daily
		{"20230229", "February 2023 has no day 29"},
		{"20240230", "February 2024 has no day 30"},
		{"20241301", "there is no month 13"},
		{"20240015", "there is no month 00"},
		{"20240100", "January 2024 has no day 00"},
		{"2024-02-30", "February 2024 has no day 30"},
		{"2024-3-15", "not a DHIS2 ISO period"},
		{"2024-03-5", "not a DHIS2 ISO period"},
		// Weekly
		{"2024W53", "there is no week 53 in 2024: Weekly periods of 2024 run from 2024W1 to 2024W52"},
		{"2024W54", "there is no week 54 in 2024"},
		{"2024W0", "there is no week 0 in 2024"},
		{"2024W005", "week numbers have one or two digits"},
		{"2024W", "not a DHIS2 ISO period"},
		{"2024W5a", "not a DHIS2 ISO period"},
		{"2024w5", `did you mean "2024W5"`},
		// WeeklyWednesday … WeeklySunday
		{"2024WedW0", "there is no week 0 in 2024"},
		{"2024WedW54", "there is no week 54 in 2024"},
		{"2024wedW5", `did you mean "2024WedW5"`},
		{"2024ThuW53", "there is no week 53 in 2024"},
		{"2024ThuW", "not a DHIS2 ISO period"},
		{"2025FriW53", "there is no week 53 in 2025"},
		{"2025FriW0", "there is no week 0"},
		{"2024SatW53", "there is no week 53 in 2024"},
		{"2024SatW100", "week numbers have one or two digits"},
		// 2025 has 53 Sunday-weeks but 52 ISO weeks: DHIS2 checks the ISO
		// count, so it refuses 2025SunW53 and so does this.
		{"2025SunW53", "there is no week 53 in 2025: WeeklySunday periods of 2025 run from 2025SunW1 to 2025SunW52"},
		// 2026 has 53 ISO weeks but 52 Sunday-weeks.
		{"2026SunW53", "there is no week 53 in 2026"},
		// BiWeekly
		{"2024BiW27", "there is no bi-week 27 in 2024: BiWeekly periods of 2024 run from 2024BiW1 to 2024BiW26"},
		{"2024BiW0", "there is no bi-week 0"},
		{"2024BiW100", "bi-week numbers have one or two digits"},
		{"2024biW1", `did you mean "2024BiW1"`},
		// Monthly
		{"202413", "there is no month 13 (months run from 01 to 12)"},
		{"2024-13", "there is no month 13"},
		{"202400", "there is no month 00"},
		{"2024-1", "not a DHIS2 ISO period"},
		{"2024-001", "not a DHIS2 ISO period"},
		// BiMonthly
		{"202407B", "there is no bi-month 07: bi-months are numbered 01 to 06 (202401B is January–February, 202406B is November–December)"},
		{"202400B", "there is no bi-month 00"},
		{"202401b", `did you mean "202401B"`},
		{"20241B", "not a DHIS2 ISO period"},
		// Quarterly, QuarterlyNov
		{"2024Q5", "there is no quarter 5: Quarterly periods are numbered 1 to 4"},
		{"2024Q0", "there is no quarter 0"},
		{"2024Q01", "quarter numbers have one digit"},
		{"2024q1", `did you mean "2024Q1"`},
		{"2024NovQ5", "there is no quarter 5: QuarterlyNov periods are numbered 1 to 4"},
		{"2024novQ1", `did you mean "2024NovQ1"`},
		// SixMonthly, SixMonthlyApril, SixMonthlyNov
		{"2024S3", "there is no half-year 3: SixMonthly periods are numbered 1 to 2"},
		{"2024S0", "there is no half-year 0"},
		{"2024AprilS3", "there is no half-year 3"},
		{"2024AprS1", "not a DHIS2 ISO period"},
		{"2024NovS3", "there is no half-year 3"},
		{"2024NovS", "not a DHIS2 ISO period"},
		// Financial years
		{"2024april", `did you mean "2024April"`},
		{"2024Apr", "not a DHIS2 ISO period"},
		{"2024Jul", "not a DHIS2 ISO period"},
		{"2024JULY", `did you mean "2024July"`},
		{"2024oct", `did you mean "2024Oct"`},
		{"2024Oct1", "not a DHIS2 ISO period"},
		{"2024nov", `did you mean "2024Nov"`},
		{"2024November", "not a DHIS2 ISO period"},
		{"2024Sept", "not a DHIS2 ISO period"},
		{"2024sep", `did you mean "2024Sep"`},
		{"2024August", "not a DHIS2 ISO period"},
		{"2024AUG", `did you mean "2024Aug"`},
		{"2024Febr", "not a DHIS2 ISO period"},
		{"2024feb", `did you mean "2024Feb"`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p, err := ParsePeriod(tc.in)
			var pe *PeriodError
			if !errors.As(err, &pe) {
				t.Fatalf("ParsePeriod(%q) = %+v, %v; want a *PeriodError", tc.in, p, err)
			}
			if pe.Period != tc.in || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("ParsePeriod(%q) error = %q; want it to contain %q", tc.in, err, tc.reason)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("period %q is not valid: ", tc.in)) {
				t.Errorf("error %q does not start with the period", err)
			}
			if p != (Period{}) {
				t.Errorf("ParsePeriod(%q) returned %+v with an error", tc.in, p)
			}
		})
	}
}

func TestPeriodOfType(t *testing.T) {
	tests := []struct {
		typ, in string
		wantISO string
		errIs   error
		errAs   any
		errText string
	}{
		{typ: "Monthly", in: "202401", wantISO: "202401"},
		{typ: "monthly", in: "2024-01", wantISO: "202401"},
		{typ: "Weekly", in: "2024W05", wantISO: "2024W5"},
		{typ: "Monthly", in: "2024W05", errAs: new(*PeriodTypeError), errText: `period "2024W05" is Weekly, but Monthly periods are required`},
		{typ: "Weekly", in: "2024WedW5", errAs: new(*PeriodTypeError), errText: `period "2024WedW5" is WeeklyWednesday, but Weekly periods are required`},
		{typ: "FinancialNov", in: "2024NovQ1", errAs: new(*PeriodTypeError), errText: "is QuarterlyNov, but FinancialNov"},
		{typ: "Monthly", in: "202413", errAs: new(*PeriodError), errText: "there is no month 13"},
		{typ: "TwoYearly", in: "2024", errIs: ErrUnsupportedPeriodType, errText: `unsupported DHIS2 period type "TwoYearly": it has no ISO period format`},
		{typ: "Fortnightly", in: "2024", errIs: ErrUnsupportedPeriodType, errText: `unsupported DHIS2 period type "Fortnightly"`},
		{typ: "", in: "2024", errIs: ErrUnsupportedPeriodType},
	}
	for _, tc := range tests {
		t.Run(tc.typ+"/"+tc.in, func(t *testing.T) {
			p, err := PeriodOfType(tc.typ, tc.in)
			if tc.wantISO != "" {
				if err != nil || p.ISO != tc.wantISO {
					t.Fatalf("PeriodOfType(%q, %q) = %+v, %v; want %s", tc.typ, tc.in, p, err, tc.wantISO)
				}
				return
			}
			if err == nil {
				t.Fatalf("PeriodOfType(%q, %q) = %+v; want an error", tc.typ, tc.in, p)
			}
			if tc.errIs != nil && !errors.Is(err, tc.errIs) {
				t.Errorf("error %v is not %v", err, tc.errIs)
			}
			if tc.errAs != nil && !errors.As(err, tc.errAs) {
				t.Errorf("error %T is not %T", err, tc.errAs)
			}
			if !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("error %q; want it to contain %q", err, tc.errText)
			}
		})
	}
	var pte *PeriodTypeError
	_, err := PeriodOfType("Monthly", "2024Q1")
	if !errors.As(err, &pte) || pte.Got != "Quarterly" || pte.Want != "Monthly" || pte.Period != "2024Q1" {
		t.Errorf("PeriodTypeError = %+v", pte)
	}
}

func TestPeriodAt(t *testing.T) {
	plus3 := time.FixedZone("EAT", 3*3600)
	tests := []struct {
		typ  string
		at   time.Time
		want string
	}{
		{"Monthly", time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC), "202403"},
		// 2024-03-31 23:30 UTC is already April 1 in UTC+3: the location of t counts.
		{"Monthly", time.Date(2024, 3, 31, 23, 30, 0, 0, time.UTC).In(plus3), "202404"},
		{"Monthly", time.Date(2024, 3, 31, 23, 30, 0, 0, time.UTC), "202403"},
		{"Daily", time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC), "20241231"},
		{"Weekly", time.Date(2021, 1, 3, 0, 0, 0, 0, time.UTC), "2020W53"},
		{"Weekly", time.Date(2024, 12, 30, 0, 0, 0, 0, time.UTC), "2025W1"},
		{"WeeklyWednesday", time.Date(2014, 12, 31, 0, 0, 0, 0, time.UTC), "2015WedW1"},
		{"WeeklySunday", time.Date(2025, 12, 28, 0, 0, 0, 0, time.UTC), "2025SunW53"},
		{"BiWeekly", time.Date(2020, 12, 29, 0, 0, 0, 0, time.UTC), "2020BiW27"},
		// ISO week 1 of 2021 is in both 2020BiW27 and 2021BiW1; it belongs to the latter.
		{"BiWeekly", time.Date(2021, 1, 5, 0, 0, 0, 0, time.UTC), "2021BiW1"},
		{"BiWeekly", time.Date(2021, 1, 11, 0, 0, 0, 0, time.UTC), "2021BiW1"},
		{"BiMonthly", time.Date(2024, 4, 30, 0, 0, 0, 0, time.UTC), "202402B"},
		{"QuarterlyNov", time.Date(2023, 12, 1, 0, 0, 0, 0, time.UTC), "2024NovQ1"},
		{"QuarterlyNov", time.Date(2024, 10, 31, 0, 0, 0, 0, time.UTC), "2024NovQ4"},
		{"SixMonthlyNov", time.Date(2024, 11, 1, 0, 0, 0, 0, time.UTC), "2025NovS1"},
		{"SixMonthlyApril", time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC), "2024AprilS2"},
		{"FinancialApril", time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC), "2024April"},
		{"FinancialNov", time.Date(2024, 11, 1, 0, 0, 0, 0, time.UTC), "2025Nov"},
		{"FinancialFeb", time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC), "2023Feb"},
		{"Yearly", time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), "2024"},
	}
	for _, tc := range tests {
		t.Run(tc.typ+"/"+tc.want, func(t *testing.T) {
			p, err := PeriodAt(tc.typ, tc.at)
			if err != nil || p.ISO != tc.want {
				t.Errorf("PeriodAt(%q, %v) = %+v, %v; want %s", tc.typ, tc.at, p, err, tc.want)
			}
		})
	}
	if _, err := PeriodAt("TwoYearly", time.Now()); !errors.Is(err, ErrUnsupportedPeriodType) {
		t.Errorf("PeriodAt(TwoYearly) error = %v", err)
	}
}

func TestPeriod_Shift(t *testing.T) {
	tests := []struct {
		from string
		n    int
		want string
	}{
		{"202401", -1, "202312"},
		{"202401", 0, "202401"},
		{"202401", 13, "202502"},
		{"202401", -25, "202112"},
		{"2024Q4", 1, "2025Q1"},
		{"2024NovQ1", -1, "2023NovQ4"},
		{"2024NovS2", 1, "2025NovS1"},
		{"202406B", 1, "202501B"},
		{"2024Nov", 1, "2025Nov"},
		{"2024", -3, "2021"},
		{"20241231", 1, "20250101"},
		{"20240301", -1, "20240229"},
		{"2020W53", 1, "2021W1"},
		{"2021W1", -1, "2020W53"},
		{"2024W52", 2, "2025W2"},
		{"2015WedW1", -1, "2014WedW52"},
		{"2020BiW26", 1, "2020BiW27"},
		{"2020BiW26", 2, "2021BiW1"},
		{"2021BiW1", -1, "2020BiW27"},
		{"2024BiW26", 1, "2025BiW1"},
		{"2025BiW1", -1, "2024BiW26"},
		{"2024BiW1", 52, "2026BiW1"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s%+d", tc.from, tc.n), func(t *testing.T) {
			p, err := ParsePeriod(tc.from)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Shift(tc.n); got.ISO != tc.want {
				t.Errorf("%s.Shift(%d) = %s; want %s", tc.from, tc.n, got.ISO, tc.want)
			}
		})
	}
	// A Period that did not come from this package is returned unchanged.
	odd := Period{Type: "TwoYearly", ISO: "x"}
	if got := odd.Shift(1); got != odd {
		t.Errorf("Shift of an unknown type = %+v", got)
	}
	// A silly n is capped, not looped over for ages.
	p, _ := ParsePeriod("2024BiW1")
	if got := p.Shift(1 << 62); got.Start.Before(p.Start) {
		t.Errorf("Shift(huge) went backwards: %+v", got)
	}
}

// TestPeriodTypes_everyDay walks every day from late 2019 to early 2027 and
// checks, for every period type, that the period holding the day holds it,
// re-parses from its ISO string to the same span, and sits between its
// neighbours.
func TestPeriodTypes_everyDay(t *testing.T) {
	for _, pt := range periodTypes {
		t.Run(pt.name, func(t *testing.T) {
			for d := day("2019-11-01"); d.Before(day("2027-03-01")); d = d.AddDate(0, 0, 1) {
				p, err := PeriodAt(pt.name, d)
				if err != nil {
					t.Fatal(err)
				}
				if d.Before(p.Start) || d.After(p.End) {
					t.Fatalf("PeriodAt(%s) = %s [%s, %s], which does not hold it", d.Format(time.DateOnly), p.ISO, p.Start, p.End)
				}
				q, err := ParsePeriod(p.ISO)
				switch {
				case err == nil && q != p:
					t.Fatalf("ParsePeriod(%q) = %+v; want %+v", p.ISO, q, p)
				case err != nil && !(pt.kind == kindWeekly && strings.HasSuffix(p.ISO, "W53")):
					t.Fatalf("ParsePeriod(%q): %v", p.ISO, err)
				}
				next, prev := p.Shift(1), p.Shift(-1)
				if next.Shift(-1) != p || prev.Shift(1) != p {
					t.Fatalf("%s: Shift(1).Shift(-1) = %s, Shift(-1).Shift(1) = %s", p.ISO, next.Shift(-1).ISO, prev.Shift(1).ISO)
				}
				if pt.kind != kindBiWeekly && !next.Start.Equal(p.End.AddDate(0, 0, 1)) {
					t.Fatalf("%s ends %s but %s starts %s", p.ISO, p.End, next.ISO, next.Start)
				}
				if pt.kind == kindWeekly && pt.weekday == time.Monday {
					y, w := d.ISOWeek()
					if want := fmt.Sprintf("%dW%d", y, w); p.ISO != want {
						t.Fatalf("PeriodAt(Weekly, %s) = %s; Go's ISOWeek says %s", d.Format(time.DateOnly), p.ISO, want)
					}
				}
				if pt.kind == kindWeekly && p.Start.Weekday() != pt.weekday {
					t.Fatalf("%s starts on %s", p.ISO, p.Start.Weekday())
				}
			}
		})
	}
}

func TestWeeksIn(t *testing.T) {
	for y := 1990; y < 2060; y++ {
		// ISO: 53 weeks when Dec 28 is in week 53.
		_, w := date(y, 12, 28).ISOWeek()
		if got := weeksIn(y, time.Monday); got != w {
			t.Errorf("weeksIn(%d, Monday) = %d; want %d", y, got, w)
		}
		for _, wd := range []time.Weekday{time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday} {
			if n := weeksIn(y, wd); n != 52 && n != 53 {
				t.Errorf("weeksIn(%d, %s) = %d", y, wd, n)
			}
		}
	}
}

func TestFloorDiv(t *testing.T) {
	for _, tc := range []struct{ a, b, want int }{{7, 12, 0}, {-1, 12, -1}, {-12, 12, -1}, {-13, 12, -2}, {24, 12, 2}, {5, -2, -3}} {
		if got := floorDiv(tc.a, tc.b); got != tc.want {
			t.Errorf("floorDiv(%d, %d) = %d; want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		year int
		want int
	}{
		{"Daily", 2024, 366}, {"Daily", 2023, 365}, {"Weekly", 2020, 53}, {"Weekly", 2024, 52},
		{"WeeklySunday", 2025, 53}, {"BiWeekly", 2020, 27}, {"BiWeekly", 2024, 26},
		{"Monthly", 2024, 12}, {"BiMonthly", 2024, 6}, {"QuarterlyNov", 2024, 4}, {"SixMonthlyApril", 2024, 2}, {"FinancialNov", 2024, 1},
	} {
		if got := typeByName[tc.typ].count(tc.year); got != tc.want {
			t.Errorf("count(%s, %d) = %d; want %d", tc.typ, tc.year, got, tc.want)
		}
	}
}
