package aggregate

import (
	"errors"
	"testing"
	"time"
)

func TestParseMonth(t *testing.T) {
	tests := []struct {
		name    string
		period  string
		want    Month
		wantErr string
	}{
		{name: "june", period: "202406", want: Month{2024, time.June}},
		{name: "january", period: "200001", want: Month{2000, time.January}},
		{name: "december", period: "199912", want: Month{1999, time.December}},
		{name: "first year", period: "190001", want: Month{1900, time.January}},
		{name: "last year", period: "999912", want: Month{9999, time.December}},
		{name: "dashed month 13", period: "2024-13", wantErr: `period "2024-13" is not a month: use YYYYMM, e.g. 202406`},
		{name: "month 13", period: "202413", wantErr: `period "202413": month 13 is not 01-12`},
		{name: "month 00", period: "202400", wantErr: `period "202400": month 00 is not 01-12`},
		{name: "dashed", period: "2024-06", wantErr: `period "2024-06" is not a month: use YYYYMM, e.g. 202406`},
		{name: "five digits", period: "24061", wantErr: `period "24061" is not a month: use YYYYMM, e.g. 202406`},
		{name: "seven digits", period: "2024061", wantErr: `period "2024061" is not a month: use YYYYMM, e.g. 202406`},
		{name: "empty", period: "", wantErr: `period "" is not a month: use YYYYMM, e.g. 202406`},
		{name: "letters", period: "abcdef", wantErr: `period "abcdef" is not a month: use YYYYMM, e.g. 202406`},
		{name: "year zero", period: "000001", wantErr: `period "000001": year 0000 is not 1900-9999`},
		{name: "year 1899", period: "189912", wantErr: `period "189912": year 1899 is not 1900-9999`},
		{name: "sign", period: "+20406", wantErr: `period "+20406" is not a month: use YYYYMM, e.g. 202406`},
		{name: "spaces", period: " 20246", wantErr: `period " 20246" is not a month: use YYYYMM, e.g. 202406`},
		{name: "non-ASCII digits", period: "２０２４０６", wantErr: `period "２０２４０６" is not a month: use YYYYMM, e.g. 202406`},
		{name: "weekly period", period: "2024W1", wantErr: `period "2024W1" is not a month: use YYYYMM, e.g. 202406`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMonth(tt.period)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseMonth(%q) error = %v; want %q", tt.period, err, tt.wantErr)
				}
				if !errors.Is(err, ErrInvalidPeriod) {
					t.Errorf("ParseMonth(%q) error %v does not wrap ErrInvalidPeriod", tt.period, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMonth(%q) error = %v; want nil", tt.period, err)
			}
			if got != tt.want {
				t.Errorf("ParseMonth(%q) = %v; want %v", tt.period, got, tt.want)
			}
			if got.Period() != tt.period {
				t.Errorf("ParseMonth(%q).Period() = %q; want the input", tt.period, got.Period())
			}
		})
	}
}

func TestMonth_Formats(t *testing.T) {
	tests := []struct {
		m                        Month
		period, docMonth, string string
	}{
		{Month{2024, time.June}, "202406", "2024-06", "202406"},
		{Month{2000, time.February}, "200002", "2000-02", "200002"},
		{Month{1999, time.December}, "199912", "1999-12", "199912"},
	}
	for _, tt := range tests {
		if got := tt.m.Period(); got != tt.period {
			t.Errorf("%#v.Period() = %q; want %q", tt.m, got, tt.period)
		}
		if got := tt.m.DocMonth(); got != tt.docMonth {
			t.Errorf("%#v.DocMonth() = %q; want %q", tt.m, got, tt.docMonth)
		}
		if got := tt.m.String(); got != tt.string {
			t.Errorf("%#v.String() = %q; want %q", tt.m, got, tt.string)
		}
	}
}

func TestMonth_Previous(t *testing.T) {
	tests := []struct {
		m, want Month
	}{
		{Month{2024, time.June}, Month{2024, time.May}},
		{Month{2024, time.February}, Month{2024, time.January}},
		{Month{2024, time.January}, Month{2023, time.December}},
		{Month{2000, time.January}, Month{1999, time.December}},
		{Month{2024, time.December}, Month{2024, time.November}},
	}
	for _, tt := range tests {
		if got := tt.m.Previous(); got != tt.want {
			t.Errorf("%v.Previous() = %v; want %v", tt.m, got, tt.want)
		}
	}
}

func TestMonthOf(t *testing.T) {
	// 2024-06-30T23:30Z is already July in Nairobi (UTC+3): the month
	// depends on the location, as CHT's does on the API server's.
	instant := time.Date(2024, time.June, 30, 23, 30, 0, 0, time.UTC)
	nairobi := time.FixedZone("EAT", 3*60*60)
	tests := []struct {
		name string
		t    time.Time
		want Month
	}{
		{"utc", instant, Month{2024, time.June}},
		{"nairobi", instant.In(nairobi), Month{2024, time.July}},
		{"cht spec now 2000-02-21", time.Date(2000, time.February, 21, 0, 0, 0, 0, time.UTC), Month{2000, time.February}},
		{"a composed example of CHT's DHIS2 export from=1718452800000", time.UnixMilli(1718452800000).UTC(), Month{2024, time.June}},
	}
	for _, tt := range tests {
		if got := MonthOf(tt.t); got != tt.want {
			t.Errorf("%s: MonthOf(%v) = %v; want %v", tt.name, tt.t, got, tt.want)
		}
	}
	if got := MonthOf(instant).Previous().DocMonth(); got != "2024-05" {
		t.Errorf("MonthOf(%v).Previous().DocMonth() = %q; want 2024-05", instant, got)
	}
}

func FuzzParseMonth(f *testing.F) {
	for _, s := range []string{"202406", "2024-13", "202413", "2024-06", "24061", "", "abcdef", "000001", "190001", "999912", "２０２４０６"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMonth(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidPeriod) {
				t.Fatalf("ParseMonth(%q) error %v does not wrap ErrInvalidPeriod", s, err)
			}
			if m != (Month{}) {
				t.Fatalf("ParseMonth(%q) = %v with an error; want the zero Month", s, m)
			}
			return
		}
		if got := m.Period(); got != s {
			t.Fatalf("ParseMonth(%q).Period() = %q; want the input", s, got)
		}
		if m.Month < time.January || m.Month > time.December || m.Year < 1900 || m.Year > 9999 {
			t.Fatalf("ParseMonth(%q) = %#v; out of range", s, m)
		}
		back, err := ParseMonth(m.String())
		if err != nil || back != m {
			t.Fatalf("ParseMonth(%q) = %v, %v; want %v", m.String(), back, err, m)
		}
		if p := m.Previous(); p.Period() >= m.Period() {
			t.Fatalf("%v.Previous() = %v; not earlier", m, p)
		}
	})
}
