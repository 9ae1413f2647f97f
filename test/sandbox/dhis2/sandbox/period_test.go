package sandbox

import (
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		in, typ, iso, start, end string
		minor                    int
	}{
		{"20240315", "Daily", "20240315", "2024-03-15", "2024-03-15", 40},
		{"2024-03-15", "Daily", "20240315", "2024-03-15", "2024-03-15", 40},
		{"2024W5", "Weekly", "2024W5", "2024-01-29", "2024-02-04", 40},
		{"2024W05", "Weekly", "2024W5", "2024-01-29", "2024-02-04", 40},
		{"2020W53", "Weekly", "2020W53", "2020-12-28", "2021-01-03", 40},
		{"2015WedW5", "WeeklyWednesday", "2015WedW5", "2015-01-28", "2015-02-03", 40},
		{"2024BiW1", "BiWeekly", "2024BiW1", "2024-01-01", "2024-01-14", 40},
		{"202401", "Monthly", "202401", "2024-01-01", "2024-01-31", 40},
		{"2024-02", "Monthly", "202402", "2024-02-01", "2024-02-29", 40},
		{"202402B", "BiMonthly", "202402B", "2024-03-01", "2024-04-30", 40},
		{"202406B", "BiMonthly", "202406B", "2024-11-01", "2024-12-31", 40},
		{"2024Q1", "Quarterly", "2024Q1", "2024-01-01", "2024-03-31", 40},
		{"2024NovQ1", "QuarterlyNov", "2024NovQ1", "2023-11-01", "2024-01-31", 41},
		{"2024S2", "SixMonthly", "2024S2", "2024-07-01", "2024-12-31", 40},
		{"2024AprilS1", "SixMonthlyApril", "2024AprilS1", "2024-04-01", "2024-09-30", 40},
		{"2024AprilS2", "SixMonthlyApril", "2024AprilS2", "2024-10-01", "2025-03-31", 40},
		{"2024NovS1", "SixMonthlyNov", "2024NovS1", "2023-11-01", "2024-04-30", 40},
		{"2024NovS2", "SixMonthlyNov", "2024NovS2", "2024-05-01", "2024-10-31", 40},
		{"2024", "Yearly", "2024", "2024-01-01", "2024-12-31", 40},
		{"2024April", "FinancialApril", "2024April", "2024-04-01", "2025-03-31", 40},
		{"2024July", "FinancialJuly", "2024July", "2024-07-01", "2025-06-30", 40},
		{"2024Oct", "FinancialOct", "2024Oct", "2024-10-01", "2025-09-30", 40},
		{"2024Nov", "FinancialNov", "2024Nov", "2023-11-01", "2024-10-31", 40},
		{"2024Sep", "FinancialSep", "2024Sep", "2024-09-01", "2025-08-31", 42},
		{"2024Aug", "FinancialAug", "2024Aug", "2024-08-01", "2025-07-31", 43},
		{"2025FriW3", "WeeklyFriday", "2025FriW3", "2025-01-17", "2025-01-23", 43},
	}
	for _, tt := range tests {
		p, ok := ParsePeriod(tt.in, tt.minor)
		if !ok {
			t.Errorf("ParsePeriod(%q, %d) failed", tt.in, tt.minor)
			continue
		}
		got := [4]string{p.Type, p.ISO, p.Start.Format(time.DateOnly), p.End.Format(time.DateOnly)}
		if want := [4]string{tt.typ, tt.iso, tt.start, tt.end}; got != want {
			t.Errorf("ParsePeriod(%q) = %v; want %v", tt.in, got, want)
		}
		// The period holding its own start is itself.
		if c, _ := periodContaining(p.Type, p.Start); c.ISO != p.ISO {
			t.Errorf("periodContaining(%s, %s) = %s", p.Type, p.Start.Format(time.DateOnly), c.ISO)
		}
	}
	for _, tt := range []struct {
		in    string
		minor int
	}{
		{"202413", 40}, {"2024W54", 40}, {"2023W53", 40}, {"20240230", 40}, {"2024Q5", 40}, {"202407B", 40},
		{"2024NovQ1", 40}, {"2024Sep", 41}, {"2024Aug", 42}, {"2025FriW3", 42}, {"2024-1", 40}, {"", 40},
		{"2024-0115", 40}, {"24", 40}, {"2024W0", 40},
	} {
		if p, ok := ParsePeriod(tt.in, tt.minor); ok {
			t.Errorf("ParsePeriod(%q, %d) = %+v; want invalid", tt.in, tt.minor, p)
		}
	}
}

func TestLatestOpenFuturePeriod(t *testing.T) {
	now := time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		typ  string
		open int
		want string
	}{
		{"Monthly", 0, "202402"},
		{"Monthly", 1, "202403"},
		{"Monthly", 3, "202405"},
		{"Monthly", 13, "202503"},
		{"Quarterly", 0, "2023Q4"},
		{"Weekly", 1, "2024W10"},
		{"Yearly", 0, "2023"},
		{"FinancialNov", 1, "2024Nov"},
		{"Daily", 0, "20240309"},
	}
	for _, tt := range tests {
		p, ok := latestOpenFuturePeriod(tt.typ, now, tt.open)
		if !ok || p.ISO != tt.want {
			t.Errorf("latestOpenFuturePeriod(%s, %d) = %s; want %s", tt.typ, tt.open, p.ISO, tt.want)
		}
	}
}

func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"202401", "2024W5", "2024NovQ1", "20240315", "2024-02", "202402B", "2024AprilS2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := ParsePeriod(s, maxMinor)
		if !ok {
			return
		}
		q, ok := ParsePeriod(p.ISO, maxMinor)
		if !ok || q != p {
			t.Errorf("ParsePeriod(%q) = %+v, but its ISO %q parses to %+v", s, p, p.ISO, q)
		}
		if p.End.Before(p.Start) {
			t.Errorf("ParsePeriod(%q): end before start", s)
		}
	})
}
