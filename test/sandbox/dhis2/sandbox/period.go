package sandbox

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Period is a parsed DHIS2 period (dhis2-core DateUnitType and PeriodType). Start and End are the first
// and the last day (inclusive) at 00:00 UTC.
type Period struct {
	Type  string // period type name, as on data sets: "Monthly", "Weekly", …
	ISO   string // canonical ISO string: "202401", "2024W5"
	Start time.Time
	End   time.Time
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// monthType is a period type made of whole months: Monthly, BiMonthly,
// Quarterly, six-monthly and yearly types, financial years.
type monthType struct {
	name      string
	length    int // months
	anchor    time.Month
	yearShift int // period "Y…" starts in year Y+yearShift (Nov types: -1)
	format    func(y, n int) string
	since     int // first DHIS2 minor version that has the type
}

func (t monthType) count() int { return 12 / t.length }

func (t monthType) make(y, n int) Period {
	mi := (y+t.yearShift)*12 + int(t.anchor) - 1 + (n-1)*t.length
	start := date(floorDiv(mi, 12), time.Month(mi-floorDiv(mi, 12)*12+1), 1)
	end := start.AddDate(0, t.length, -1)
	return Period{Type: t.name, ISO: t.format(y, n), Start: start, End: end}
}

func (t monthType) containing(d time.Time) Period {
	mi := d.Year()*12 + int(d.Month()) - 1
	base := int(t.anchor) - 1
	k := floorDiv(mi-base, 12)
	mi0 := k*12 + base
	y := floorDiv(mi0, 12) - t.yearShift
	n := (mi-mi0)/t.length + 1
	return t.make(y, n)
}

var monthTypes = []monthType{
	{name: "Monthly", length: 1, anchor: time.January, format: func(y, n int) string { return fmt.Sprintf("%04d%02d", y, n) }},
	{name: "BiMonthly", length: 2, anchor: time.January, format: func(y, n int) string { return fmt.Sprintf("%04d%02dB", y, n) }},
	{name: "Quarterly", length: 3, anchor: time.January, format: func(y, n int) string { return fmt.Sprintf("%04dQ%d", y, n) }},
	{name: "QuarterlyNov", length: 3, anchor: time.November, yearShift: -1, since: 41, format: func(y, n int) string { return fmt.Sprintf("%04dNovQ%d", y, n) }},
	{name: "SixMonthly", length: 6, anchor: time.January, format: func(y, n int) string { return fmt.Sprintf("%04dS%d", y, n) }},
	{name: "SixMonthlyApril", length: 6, anchor: time.April, format: func(y, n int) string { return fmt.Sprintf("%04dAprilS%d", y, n) }},
	{name: "SixMonthlyNov", length: 6, anchor: time.November, yearShift: -1, format: func(y, n int) string { return fmt.Sprintf("%04dNovS%d", y, n) }},
	{name: "Yearly", length: 12, anchor: time.January, format: func(y, _ int) string { return fmt.Sprintf("%04d", y) }},
	{name: "FinancialApril", length: 12, anchor: time.April, format: func(y, _ int) string { return fmt.Sprintf("%04dApril", y) }},
	{name: "FinancialJuly", length: 12, anchor: time.July, format: func(y, _ int) string { return fmt.Sprintf("%04dJuly", y) }},
	{name: "FinancialOct", length: 12, anchor: time.October, format: func(y, _ int) string { return fmt.Sprintf("%04dOct", y) }},
	{name: "FinancialNov", length: 12, anchor: time.November, yearShift: -1, format: func(y, _ int) string { return fmt.Sprintf("%04dNov", y) }},
	{name: "FinancialSep", length: 12, anchor: time.September, since: 42, format: func(y, _ int) string { return fmt.Sprintf("%04dSep", y) }},
	{name: "FinancialAug", length: 12, anchor: time.August, since: 43, format: func(y, _ int) string { return fmt.Sprintf("%04dAug", y) }},
	{name: "FinancialFeb", length: 12, anchor: time.February, since: 43, format: func(y, _ int) string { return fmt.Sprintf("%04dFeb", y) }},
}

func monthTypeNamed(name string) (monthType, bool) {
	for _, t := range monthTypes {
		if t.name == name {
			return t, true
		}
	}
	return monthType{}, false
}

// weekType is a period type of 7 (or 14) days starting on a fixed weekday.
// Week 1 of year Y is the week holding January 4th (ISO 8601 for Monday).
type weekType struct {
	name   string
	prefix string // between year and "W": "", "Wed", "Bi", …
	start  time.Weekday
	weeks  int // 1, or 2 for BiWeekly
	since  int
}

var weekTypes = []weekType{
	{name: "Weekly", prefix: "", start: time.Monday, weeks: 1},
	{name: "WeeklyWednesday", prefix: "Wed", start: time.Wednesday, weeks: 1},
	{name: "WeeklyThursday", prefix: "Thu", start: time.Thursday, weeks: 1},
	{name: "WeeklyFriday", prefix: "Fri", start: time.Friday, weeks: 1, since: 43},
	{name: "WeeklySaturday", prefix: "Sat", start: time.Saturday, weeks: 1},
	{name: "WeeklySunday", prefix: "Sun", start: time.Sunday, weeks: 1},
	{name: "BiWeekly", prefix: "Bi", start: time.Monday, weeks: 2},
}

func weekTypeNamed(name string) (weekType, bool) {
	for _, t := range weekTypes {
		if t.name == name {
			return t, true
		}
	}
	return weekType{}, false
}

func (t weekType) week1(y int) time.Time {
	jan4 := date(y, time.January, 4)
	off := (int(jan4.Weekday()) - int(t.start) + 7) % 7
	return jan4.AddDate(0, 0, -off)
}

// count is the number of periods in week-year y.
func (t weekType) count(y int) int {
	weeks := int(t.week1(y+1).Sub(t.week1(y)).Hours() / 24 / 7)
	return (weeks + t.weeks - 1) / t.weeks
}

func (t weekType) make(y, n int) Period {
	start := t.week1(y).AddDate(0, 0, 7*t.weeks*(n-1))
	return Period{
		Type:  t.name,
		ISO:   fmt.Sprintf("%04d%sW%d", y, t.prefix, n),
		Start: start,
		End:   start.AddDate(0, 0, 7*t.weeks-1),
	}
}

func (t weekType) containing(d time.Time) Period {
	y := d.Year() + 1
	for t.week1(y).After(d) {
		y--
	}
	days := int(d.Sub(t.week1(y)).Hours() / 24)
	return t.make(y, days/(7*t.weeks)+1)
}

var (
	reDaily     = regexp.MustCompile(`^(\d{4})(\d{2})(\d{2})$|^(\d{4})-(\d{2})-(\d{2})$`)
	reWeek      = regexp.MustCompile(`^(\d{4})(Wed|Thu|Fri|Sat|Sun|Bi)?W(\d{1,2})$`)
	reMonthly   = regexp.MustCompile(`^(\d{4})(\d{2})$|^(\d{4})-(\d{2})$`)
	reBiMonthly = regexp.MustCompile(`^(\d{4})(\d{2})B$`)
	reIndexed   = regexp.MustCompile(`^(\d{4})(Q|NovQ|S|AprilS|NovS)(\d)$`)
	reYearly    = regexp.MustCompile(`^(\d{4})(April|July|Oct|Nov|Sep|Aug|Feb)?$`)
)

// ParsePeriod parses an ISO period string as DHIS2 2.minor does. Period
// types that did not exist yet in that version do not parse.
func ParsePeriod(s string, minor int) (Period, bool) {
	if m := reDaily.FindStringSubmatch(s); m != nil {
		m = alternation(m, 3)
		y, _ := strconv.Atoi(m[1])
		mo, _ := strconv.Atoi(m[2])
		d, _ := strconv.Atoi(m[3])
		t := date(y, time.Month(mo), d)
		if mo < 1 || mo > 12 || t.Day() != d {
			return Period{}, false
		}
		return dailyPeriod(t), true
	}
	if m := reWeek.FindStringSubmatch(s); m != nil {
		y, _ := strconv.Atoi(m[1])
		n, _ := strconv.Atoi(m[3])
		for _, t := range weekTypes {
			if t.prefix == m[2] && minor >= t.since && n >= 1 && n <= t.count(y) {
				return t.make(y, n), true
			}
		}
		return Period{}, false
	}
	if m := reMonthly.FindStringSubmatch(s); m != nil {
		m = alternation(m, 2)
		y, _ := strconv.Atoi(m[1])
		n, _ := strconv.Atoi(m[2])
		if n < 1 || n > 12 {
			return Period{}, false
		}
		return monthTypes[0].make(y, n), true
	}
	if m := reBiMonthly.FindStringSubmatch(s); m != nil {
		y, _ := strconv.Atoi(m[1])
		n, _ := strconv.Atoi(m[2])
		if n < 1 || n > 6 {
			return Period{}, false
		}
		return monthTypes[1].make(y, n), true
	}
	if m := reIndexed.FindStringSubmatch(s); m != nil {
		y, _ := strconv.Atoi(m[1])
		n, _ := strconv.Atoi(m[3])
		name := map[string]string{"Q": "Quarterly", "NovQ": "QuarterlyNov", "S": "SixMonthly", "AprilS": "SixMonthlyApril", "NovS": "SixMonthlyNov"}[m[2]]
		t, _ := monthTypeNamed(name)
		if minor < t.since || n < 1 || n > t.count() {
			return Period{}, false
		}
		return t.make(y, n), true
	}
	if m := reYearly.FindStringSubmatch(s); m != nil {
		y, _ := strconv.Atoi(m[1])
		name := "Yearly"
		if m[2] != "" {
			name = "Financial" + m[2]
		}
		t, _ := monthTypeNamed(name)
		if minor < t.since {
			return Period{}, false
		}
		return t.make(y, 1), true
	}
	return Period{}, false
}

// alternation folds the groups of a two-branch regexp "^A$|^B$" with n
// groups each into m[1..n].
func alternation(m []string, n int) []string {
	if m[1] == "" {
		return append([]string{m[0]}, m[n+1:]...)
	}
	return m[:n+1]
}

func dailyPeriod(t time.Time) Period {
	return Period{Type: "Daily", ISO: t.Format("20060102"), Start: t, End: t}
}

// periodContaining returns the period of the named type that holds day d.
func periodContaining(typeName string, d time.Time) (Period, bool) {
	d = date(d.Year(), d.Month(), d.Day())
	if typeName == "Daily" {
		return dailyPeriod(d), true
	}
	if t, ok := monthTypeNamed(typeName); ok {
		return t.containing(d), true
	}
	if t, ok := weekTypeNamed(typeName); ok {
		return t.containing(d), true
	}
	return Period{}, false
}

// shift moves p by n periods of its own type.
func (p Period) shift(n int) Period {
	for ; n > 0; n-- {
		p, _ = periodContaining(p.Type, p.End.AddDate(0, 0, 1))
	}
	for ; n < 0; n++ {
		p, _ = periodContaining(p.Type, p.Start.AddDate(0, 0, -1))
	}
	return p
}

// latestOpenFuturePeriod is PeriodType.getFuturePeriod(openFuturePeriods):
// the current period − 1 + openFuturePeriods, so 0 closes the current
// period (DHIS2 Web API docs, metadata).
func latestOpenFuturePeriod(typeName string, now time.Time, openFuture int) (Period, bool) {
	cur, ok := periodContaining(typeName, now)
	if !ok {
		return Period{}, false
	}
	return cur.shift(openFuture - 1), true
}

// isAfter reports whether p starts after q ends.
func (p Period) isAfter(q Period) bool { return p.Start.After(q.End) }

// knownPeriodType reports whether name is a period type of 2.minor.
func knownPeriodType(name string, minor int) bool {
	if name == "Daily" {
		return true
	}
	if t, ok := monthTypeNamed(name); ok {
		return minor >= t.since
	}
	if t, ok := weekTypeNamed(name); ok {
		return minor >= t.since
	}
	return false
}
