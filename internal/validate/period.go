package validate

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// PeriodTypeMonthly is the period type name DHIS2 gives monthly data sets.
// CHT's target docs are monthly (one per user, contact and month), so the
// mediator builds monthly values only; a data set of any other period type
// cannot take them, and Check says so.
const PeriodTypeMonthly = "Monthly"

// Period is one DHIS2 monthly period.
type Period struct {
	// Type is the DHIS2 period type name: always "Monthly".
	Type string
	// Start and End are the first and last day of the month (both
	// inclusive), at midnight UTC.
	Start, End time.Time
	// ISO is the canonical ISO string DHIS2 writes: "202401".
	ISO string
}

// String returns the canonical ISO string.
func (p Period) String() string { return p.ISO }

// PeriodError reports a string that is not a monthly DHIS2 ISO period.
type PeriodError struct {
	Period string // the string as given
	Reason string // what is wrong with it, in plain English
	// Type is the DHIS2 period type the string is written in, when it is a
	// period of another type ("2024W05" is Weekly), else "".
	Type string
}

func (e *PeriodError) Error() string {
	return fmt.Sprintf("period %q is not valid: %s", e.Period, e.Reason)
}

// monthOf returns the month of year y and month m (1–12).
func monthOf(y int, m time.Month) Period {
	start := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	return Period{
		Type:  PeriodTypeMonthly,
		Start: start,
		End:   start.AddDate(0, 1, -1),
		ISO:   fmt.Sprintf("%04d%02d", y, int(m)),
	}
}

// monthAt returns the month that holds t's calendar date.
func monthAt(t time.Time) Period { return monthOf(t.Year(), t.Month()) }

// Shift returns the month n months after p (before it when n < 0).
func (p Period) Shift(n int) Period {
	s := p.Start.AddDate(0, n, 0)
	return monthOf(s.Year(), s.Month())
}

var monthly = regexp.MustCompile(`^([0-9]{4})-?([0-9]{2})$`)

// otherTypes recognise the ISO forms of DHIS2's other period types
// (dhis2-core PeriodType and DateUnitType), only to name them in an error.
var otherTypes = []struct {
	re   *regexp.Regexp
	name string
}{
	{regexp.MustCompile(`^[0-9]{8}$|^[0-9]{4}-[0-9]{2}-[0-9]{2}$`), "Daily"},
	{regexp.MustCompile(`^[0-9]{4}W[0-9]{1,2}$`), "Weekly"},
	{regexp.MustCompile(`^[0-9]{4}(Wed|Thu|Fri|Sat|Sun)W[0-9]{1,2}$`), "Weekly (starting on another day)"},
	{regexp.MustCompile(`^[0-9]{4}BiW[0-9]{1,2}$`), "BiWeekly"},
	{regexp.MustCompile(`^[0-9]{4}[0-9]{2}B$`), "BiMonthly"},
	{regexp.MustCompile(`^[0-9]{4}(Nov)?Q[0-9]$`), "Quarterly"},
	{regexp.MustCompile(`^[0-9]{4}(April|Nov)?S[0-9]$`), "SixMonthly"},
	{regexp.MustCompile(`^[0-9]{4}$`), "Yearly"},
	{regexp.MustCompile(`^[0-9]{4}(April|July|Oct|Nov|Sep|Aug|Feb)$`), "Financial year"},
}

// ParsePeriod parses a monthly DHIS2 period: yyyyMM, or yyyy-MM (which
// DHIS2 also accepts). The error is a *PeriodError saying what is wrong,
// and naming the period type of a string written in another one.
func ParsePeriod(s string) (Period, error) {
	m := monthly.FindStringSubmatch(s)
	if m == nil {
		e := &PeriodError{Period: s, Reason: "it is not a monthly DHIS2 period (expected the form 202401 or 2024-01)"}
		if s == "" {
			e.Reason = "it is empty"
		}
		for _, t := range otherTypes {
			if t.re.MatchString(s) {
				e.Type = t.name
				e.Reason = fmt.Sprintf("it is a %s period, and the mediator only builds monthly values (such as 202401)", t.name)
				break
			}
		}
		return Period{}, e
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[2])
	if mo < 1 || mo > 12 {
		return Period{}, &PeriodError{Period: s, Reason: fmt.Sprintf("there is no month %s (months run from 01 to 12)", m[2])}
	}
	return monthOf(y, time.Month(mo)), nil
}
