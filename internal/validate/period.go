package validate

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Period type names as DHIS2 spells them in a data set's periodType
// (dhis2-core DateUnitType and PeriodType).
const (
	PeriodTypeDaily           = "Daily"
	PeriodTypeWeekly          = "Weekly"
	PeriodTypeWeeklyWednesday = "WeeklyWednesday"
	PeriodTypeWeeklyThursday  = "WeeklyThursday"
	PeriodTypeWeeklyFriday    = "WeeklyFriday" // DHIS2 2.43+
	PeriodTypeWeeklySaturday  = "WeeklySaturday"
	PeriodTypeWeeklySunday    = "WeeklySunday"
	PeriodTypeBiWeekly        = "BiWeekly"
	PeriodTypeMonthly         = "Monthly"
	PeriodTypeBiMonthly       = "BiMonthly"
	PeriodTypeQuarterly       = "Quarterly"
	PeriodTypeQuarterlyNov    = "QuarterlyNov" // DHIS2 2.41+
	PeriodTypeSixMonthly      = "SixMonthly"
	PeriodTypeSixMonthlyApril = "SixMonthlyApril"
	PeriodTypeSixMonthlyNov   = "SixMonthlyNov"
	PeriodTypeYearly          = "Yearly"
	PeriodTypeFinancialApril  = "FinancialApril"
	PeriodTypeFinancialJuly   = "FinancialJuly"
	PeriodTypeFinancialOct    = "FinancialOct"
	PeriodTypeFinancialNov    = "FinancialNov"
	PeriodTypeFinancialSep    = "FinancialSep" // DHIS2 2.42+
	PeriodTypeFinancialAug    = "FinancialAug" // DHIS2 2.43+
	PeriodTypeFinancialFeb    = "FinancialFeb" // DHIS2 2.43+
	// PeriodTypeTwoYearly exists in DHIS2 but has no ISO string, so no data
	// value can name one of its periods.
	PeriodTypeTwoYearly = "TwoYearly"
)

// ErrUnsupportedPeriodType is wrapped by the error PeriodOfType and PeriodAt
// return for a period type name they cannot work with.
var ErrUnsupportedPeriodType = errors.New("unsupported DHIS2 period type")

// Period is one DHIS2 period.
type Period struct {
	// Type is the DHIS2 period type name, e.g. "Monthly".
	Type string
	// Start and End are the first and last day of the period (both
	// inclusive), at midnight UTC.
	Start, End time.Time
	// ISO is the canonical ISO string, as DHIS2 writes it: "2024W5" for
	// "2024W05", "202401" for "2024-01", "20240115" for "2024-01-15".
	ISO string
}

// String returns the canonical ISO string.
func (p Period) String() string { return p.ISO }

// PeriodError reports a string that is not a well-formed DHIS2 ISO period.
type PeriodError struct {
	Period string // the string as given
	Reason string // what is wrong with it, in plain English
}

func (e *PeriodError) Error() string {
	return fmt.Sprintf("period %q is not valid: %s", e.Period, e.Reason)
}

// PeriodTypeError reports a well-formed period of another period type than
// the one required.
type PeriodTypeError struct {
	Period string // the string as given
	Got    string // its period type
	Want   string // the required period type
}

func (e *PeriodTypeError) Error() string {
	return fmt.Sprintf("period %q is %s, but %s periods are required", e.Period, e.Got, e.Want)
}

// kind is how a period type cuts the calendar.
type kind uint8

const (
	kindDaily    kind = iota
	kindWeekly        // 7-day weeks starting on a weekday; week 1 holds January 4
	kindBiWeekly      // pairs of ISO weeks: bi-week n starts at ISO week 2n−1
	kindMonths        // runs of whole months
)

// style is how the ISO string continues after the four-digit year.
type style uint8

const (
	styleDay     style = iota // yyyyMMdd
	styleIndex                // yyyy + marker + n (n unpadded)
	styleMonth                // yyyyMM
	styleBiMonth              // yyyyMMB, MM the bi-month index 01–06
	styleYear                 // yyyy
	styleSuffix               // yyyy + marker
)

// periodType describes one DHIS2 period type. A period is identified by a
// label year y and an index i ≥ 1 within it (the day of the year, the week,
// the quarter, …); the ISO string is built from (y, i).
type periodType struct {
	name    string
	kind    kind
	style   style
	marker  string       // styleIndex, styleSuffix: the letters after the year
	digits  int          // styleIndex: most digits n may have
	unit    string       // styleIndex: what n counts, for messages
	weekday time.Weekday // kindWeekly: first day of the week
	months  int          // kindMonths: length in months
	// kindMonths: months from January of the label year to the start of
	// period 1; negative when the cycle starts in the previous year
	// (QuarterlyNov, SixMonthlyNov, FinancialNov are named by the year
	// they end in).
	first int
}

// periodTypes lists every period type with an ISO form. The spans follow
// dhis2-core's DateUnitPeriodTypeParser (2.39–2.41) and the *PeriodType
// classes up to 2.43 (dhis2-core DateUnitType and PeriodType).
var periodTypes = []*periodType{
	{name: PeriodTypeDaily, kind: kindDaily, style: styleDay},
	{name: PeriodTypeWeekly, kind: kindWeekly, style: styleIndex, marker: "W", digits: 2, unit: "week", weekday: time.Monday},
	{name: PeriodTypeWeeklyWednesday, kind: kindWeekly, style: styleIndex, marker: "WedW", digits: 2, unit: "week", weekday: time.Wednesday},
	{name: PeriodTypeWeeklyThursday, kind: kindWeekly, style: styleIndex, marker: "ThuW", digits: 2, unit: "week", weekday: time.Thursday},
	{name: PeriodTypeWeeklyFriday, kind: kindWeekly, style: styleIndex, marker: "FriW", digits: 2, unit: "week", weekday: time.Friday},
	{name: PeriodTypeWeeklySaturday, kind: kindWeekly, style: styleIndex, marker: "SatW", digits: 2, unit: "week", weekday: time.Saturday},
	{name: PeriodTypeWeeklySunday, kind: kindWeekly, style: styleIndex, marker: "SunW", digits: 2, unit: "week", weekday: time.Sunday},
	{name: PeriodTypeBiWeekly, kind: kindBiWeekly, style: styleIndex, marker: "BiW", digits: 2, unit: "bi-week"},
	{name: PeriodTypeMonthly, kind: kindMonths, style: styleMonth, months: 1},
	{name: PeriodTypeBiMonthly, kind: kindMonths, style: styleBiMonth, months: 2},
	{name: PeriodTypeQuarterly, kind: kindMonths, style: styleIndex, marker: "Q", digits: 1, unit: "quarter", months: 3},
	{name: PeriodTypeQuarterlyNov, kind: kindMonths, style: styleIndex, marker: "NovQ", digits: 1, unit: "quarter", months: 3, first: -2},
	{name: PeriodTypeSixMonthly, kind: kindMonths, style: styleIndex, marker: "S", digits: 1, unit: "half-year", months: 6},
	{name: PeriodTypeSixMonthlyApril, kind: kindMonths, style: styleIndex, marker: "AprilS", digits: 1, unit: "half-year", months: 6, first: 3},
	{name: PeriodTypeSixMonthlyNov, kind: kindMonths, style: styleIndex, marker: "NovS", digits: 1, unit: "half-year", months: 6, first: -2},
	{name: PeriodTypeYearly, kind: kindMonths, style: styleYear, months: 12},
	{name: PeriodTypeFinancialApril, kind: kindMonths, style: styleSuffix, marker: "April", months: 12, first: 3},
	{name: PeriodTypeFinancialJuly, kind: kindMonths, style: styleSuffix, marker: "July", months: 12, first: 6},
	{name: PeriodTypeFinancialOct, kind: kindMonths, style: styleSuffix, marker: "Oct", months: 12, first: 9},
	{name: PeriodTypeFinancialNov, kind: kindMonths, style: styleSuffix, marker: "Nov", months: 12, first: -2},
	{name: PeriodTypeFinancialSep, kind: kindMonths, style: styleSuffix, marker: "Sep", months: 12, first: 8},
	{name: PeriodTypeFinancialAug, kind: kindMonths, style: styleSuffix, marker: "Aug", months: 12, first: 7},
	{name: PeriodTypeFinancialFeb, kind: kindMonths, style: styleSuffix, marker: "Feb", months: 12, first: 1},
}

var (
	typeByName   = map[string]*periodType{}
	typeByMarker = map[string]*periodType{} // styleIndex and styleSuffix markers
	typeMonthly  *periodType
	typeDaily    *periodType
	typeYearly   *periodType
	typeBiMonth  *periodType
)

func init() {
	for _, pt := range periodTypes {
		typeByName[pt.name] = pt
		if pt.marker != "" {
			typeByMarker[pt.marker] = pt
		}
	}
	typeMonthly = typeByName[PeriodTypeMonthly]
	typeDaily = typeByName[PeriodTypeDaily]
	typeYearly = typeByName[PeriodTypeYearly]
	typeBiMonth = typeByName[PeriodTypeBiMonthly]
}

// lookupType finds a period type by its DHIS2 name. DHIS2 itself looks
// names up ignoring case (PeriodType.getByNameIgnoreCase), and so does this.
func lookupType(name string) (*periodType, error) {
	if pt, ok := typeByName[name]; ok {
		return pt, nil
	}
	for _, pt := range periodTypes {
		if strings.EqualFold(pt.name, name) {
			return pt, nil
		}
	}
	if strings.EqualFold(name, PeriodTypeTwoYearly) {
		return nil, fmt.Errorf("%w %q: it has no ISO period format, so no data value can name its periods", ErrUnsupportedPeriodType, name)
	}
	return nil, fmt.Errorf("%w %q: not one of the period types of DHIS2 2.37–2.43", ErrUnsupportedPeriodType, name)
}

// date returns midnight UTC of a calendar day; month and day may overflow
// and are normalised as time.Date does.
func date(y, m, d int) time.Time {
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
}

// civil returns the calendar day of t, read in t's own location, as
// midnight UTC.
func civil(t time.Time) time.Time {
	y, m, d := t.Date()
	return date(y, int(m), d)
}

func daysIn(y, m int) int { return date(y, m+1, 0).Day() }

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// weekOneStart returns the first day of week 1 of year y for weeks that
// start on wd. Week 1 is the first week with at least four days in y, which
// is the week holding January 4. This is DHIS2's own definition for every
// weekly type: DateUnitPeriodTypeParser.getDateTimeFromWeek and
// WeeklyAbstractPeriodType.getIsoDate use WeekFields.of(firstDayOfWeek, 4)
// (dhis2-core, dhis-api/.../calendar/DateUnitPeriodTypeParser.java and
// .../period/WeeklyAbstractPeriodType.java). For Monday it is the ISO 8601
// week; 2015WedW1, for example, starts on Wednesday 2014-12-31.
func weekOneStart(y int, wd time.Weekday) time.Time {
	jan4 := date(y, 1, 4)
	back := (int(jan4.Weekday()) - int(wd) + 7) % 7
	return jan4.AddDate(0, 0, -back)
}

// weeksIn returns how many weeks starting on wd year y has: 52 or 53.
func weeksIn(y int, wd time.Weekday) int {
	return int(weekOneStart(y+1, wd).Sub(weekOneStart(y, wd)).Hours()) / (24 * 7)
}

// count returns how many periods label year y has.
func (pt *periodType) count(y int) int {
	switch pt.kind {
	case kindDaily:
		return date(y, 12, 31).YearDay()
	case kindWeekly:
		return weeksIn(y, pt.weekday)
	case kindBiWeekly:
		// A 53-week year has a bi-week 27 made of ISO week 53 and the next
		// year's week 1, which is also part of that year's bi-week 1: DHIS2
		// parses it (2·27−1 ≤ 53) and its getIsoDate produces it.
		return (weeksIn(y, time.Monday) + 1) / 2
	default:
		return 12 / pt.months
	}
}

// maxIndex returns the largest index ParsePeriod accepts for label year y.
// For weeks not starting on Monday it is also capped by the number of ISO
// weeks, because DHIS2 checks the week number against the ISO count
// (calendar.weeksInYear) whatever the start day: without the cap a week 53
// would be accepted here and refused (or moved into the next year) there.
func (pt *periodType) maxIndex(y int) int {
	n := pt.count(y)
	if pt.kind == kindWeekly && pt.weekday != time.Monday {
		n = min(n, weeksIn(y, time.Monday))
	}
	return n
}

// span returns the first and last day of period (y, i).
func (pt *periodType) span(y, i int) (start, end time.Time) {
	switch pt.kind {
	case kindDaily:
		start = date(y, 1, i)
		return start, start
	case kindWeekly:
		start = weekOneStart(y, pt.weekday).AddDate(0, 0, 7*(i-1))
		return start, start.AddDate(0, 0, 6)
	case kindBiWeekly:
		start = weekOneStart(y, time.Monday).AddDate(0, 0, 14*(i-1))
		return start, start.AddDate(0, 0, 13)
	default:
		m := 1 + pt.first + (i-1)*pt.months
		return date(y, m, 1), date(y, m+pt.months, 0)
	}
}

// at returns the period (y, i) that holds day d.
func (pt *periodType) at(d time.Time) (y, i int) {
	switch pt.kind {
	case kindDaily:
		return d.Year(), d.YearDay()
	case kindWeekly:
		start := d.AddDate(0, 0, -((int(d.Weekday()) - int(pt.weekday) + 7) % 7))
		mid := start.AddDate(0, 0, 3) // the week belongs to the year of its 4th day
		return mid.Year(), (mid.YearDay()-1)/7 + 1
	case kindBiWeekly:
		y, w := d.ISOWeek()
		return y, (w + 1) / 2
	default:
		k := d.Year()*12 + int(d.Month()) - 1 - pt.first
		y = floorDiv(k, 12)
		return y, (k-y*12)/pt.months + 1
	}
}

// iso returns the canonical ISO string of period (y, i).
func (pt *periodType) iso(y, i int) string {
	switch pt.style {
	case styleDay:
		d := date(y, 1, i)
		return fmt.Sprintf("%04d%02d%02d", d.Year(), int(d.Month()), d.Day())
	case styleIndex:
		return fmt.Sprintf("%04d%s%d", y, pt.marker, i)
	case styleMonth:
		return fmt.Sprintf("%04d%02d", y, i)
	case styleBiMonth:
		return fmt.Sprintf("%04d%02dB", y, i)
	case styleYear:
		return fmt.Sprintf("%04d", y)
	default:
		return fmt.Sprintf("%04d%s", y, pt.marker)
	}
}

func (pt *periodType) period(y, i int) Period {
	start, end := pt.span(y, i)
	return Period{Type: pt.name, Start: start, End: end, ISO: pt.iso(y, i)}
}

// maxShift bounds Shift so that a silly n cannot loop for long.
const maxShift = 1_000_000

// shift moves period (y, i) by n periods.
func (pt *periodType) shift(y, i, n int) (int, int) {
	n = max(-maxShift, min(maxShift, n))
	switch pt.kind {
	case kindDaily:
		return pt.at(date(y, 1, i).AddDate(0, 0, n))
	case kindWeekly:
		start, _ := pt.span(y, i)
		return pt.at(start.AddDate(0, 0, 7*n))
	case kindBiWeekly:
		for ; n > 0; n-- {
			if i < pt.count(y) {
				i++
			} else {
				y, i = y+1, 1
			}
		}
		for ; n < 0; n++ {
			if i > 1 {
				i--
			} else {
				y--
				i = pt.count(y)
			}
		}
		return y, i
	default:
		per := 12 / pt.months
		k := y*per + (i - 1) + n
		y = floorDiv(k, per)
		return y, k - y*per + 1
	}
}

// Shift returns the period n periods after p (before it when n < 0), of
// the same type. n is capped at ±1,000,000. A Period that did not come from
// this package (unknown Type) is returned unchanged.
//
// For BiWeekly, the bi-week after 2020BiW26 is 2020BiW27 (ISO week 53 and
// the next year's week 1), and after that 2021BiW1, as DHIS2 counts them.
func (p Period) Shift(n int) Period {
	pt, ok := typeByName[p.Type]
	if !ok {
		return p
	}
	y, i := pt.at(p.Start)
	y, i = pt.shift(y, i, n)
	return pt.period(y, i)
}

// PeriodAt returns the period of the given type that holds the calendar
// day of t (read in t's own location: pass t in the DHIS2 server's time
// zone).
//
// For the non-Monday weekly types it can return a week 53 that ParsePeriod
// refuses (for example 2025SunW53, in a year with 52 ISO weeks): DHIS2's
// own WeeklyAbstractPeriodType.getIsoDate names that week the same way and
// its parser refuses it too.
func PeriodAt(periodType string, t time.Time) (Period, error) {
	pt, err := lookupType(periodType)
	if err != nil {
		return Period{}, err
	}
	y, i := pt.at(civil(t))
	return pt.period(y, i), nil
}

// PeriodOfType parses s and requires it to be a period of periodType (a
// DHIS2 period type name such as "Monthly"). The error is a *PeriodError
// when s is malformed, a *PeriodTypeError when s is a period of another
// type, and wraps ErrUnsupportedPeriodType when periodType is unknown or
// has no ISO form.
func PeriodOfType(periodType, s string) (Period, error) {
	want, err := lookupType(periodType)
	if err != nil {
		return Period{}, err
	}
	p, err := ParsePeriod(s)
	if err != nil {
		return Period{}, err
	}
	if p.Type != want.name {
		return Period{}, &PeriodTypeError{Period: s, Got: p.Type, Want: want.name}
	}
	return p, nil
}

// ParsePeriod parses every ISO period format of dhis2-core DateUnitType and PeriodType: daily
// (yyyyMMdd, yyyy-MM-dd), weekly (yyyyWn, n of one or two digits, so W05
// too) and the weekly variants (yyyyWedWn, ThuW, FriW, SatW, SunW),
// bi-weekly (yyyyBiWn), monthly (yyyyMM, yyyy-MM), bi-monthly (yyyyMMB, MM
// the bi-month index 01–06), quarterly (yyyyQn, yyyyNovQn), six-monthly
// (yyyySn, yyyyAprilSn, yyyyNovSn), yearly (yyyy) and financial years
// (yyyyApril, July, Oct, Sep, Aug, Feb named by the start year; yyyyNov by
// the end year). Letters are case-sensitive, as in DHIS2. The error is a
// *PeriodError saying what is wrong.
func ParsePeriod(s string) (Period, error) {
	pt, y, i, reason := parse(s)
	if reason != "" {
		return Period{}, &PeriodError{Period: s, Reason: reason}
	}
	return pt.period(y, i), nil
}

const unknownFormat = "it is not a DHIS2 ISO period (expected a form such as 2024, 202401, 2024-01, 2024Q1, 2024W5 or 20240115)"

// parse returns the type and (y, i) of s, or a reason why s is not a period.
func parse(s string) (pt *periodType, y, i int, reason string) {
	if s == "" {
		return nil, 0, 0, "it is empty"
	}
	if len(s) < 4 || !digits(s[:4]) {
		return nil, 0, 0, unknownFormat
	}
	y = atoi(s[:4])
	r := s[4:]
	switch {
	case r == "":
		return typeYearly, y, 1, ""
	case len(r) == 2 && digits(r):
		return parseMonth(y, r)
	case len(r) == 3 && r[0] == '-' && digits(r[1:]):
		return parseMonth(y, r[1:])
	case len(r) == 4 && digits(r):
		return parseDay(y, r[:2], r[2:])
	case len(r) == 6 && r[0] == '-' && r[3] == '-' && digits(r[1:3]) && digits(r[4:]):
		return parseDay(y, r[1:3], r[4:])
	case len(r) == 3 && digits(r[:2]) && r[2] == 'B':
		n := atoi(r[:2])
		if n < 1 || n > 6 {
			return nil, 0, 0, fmt.Sprintf("there is no bi-month %s: bi-months are numbered 01 to 06 (%04d01B is January–February, %04d06B is November–December)", r[:2], y, y)
		}
		return typeBiMonth, y, n, ""
	}
	cut := 0
	for cut < len(r) && !isDigit(r[cut]) {
		cut++
	}
	marker, tail := r[:cut], r[cut:]
	pt, ok := typeByMarker[marker]
	if !ok || (tail == "") != (pt.style == styleSuffix) {
		return nil, 0, 0, caseHint(s, marker, tail)
	}
	if pt.style == styleSuffix {
		return pt, y, 1, ""
	}
	if !digits(tail) {
		return nil, 0, 0, unknownFormat
	}
	if len(tail) > pt.digits {
		if pt.digits == 1 {
			return nil, 0, 0, fmt.Sprintf("%s numbers have one digit", pt.unit)
		}
		return nil, 0, 0, fmt.Sprintf("%s numbers have one or two digits", pt.unit)
	}
	n := atoi(tail)
	if last := pt.maxIndex(y); n < 1 || n > last {
		if pt.kind == kindMonths {
			return nil, 0, 0, fmt.Sprintf("there is no %s %d: %s periods are numbered 1 to %d", pt.unit, n, pt.name, last)
		}
		return nil, 0, 0, fmt.Sprintf("there is no %s %d in %04d: %s periods of %04d run from %s to %s",
			pt.unit, n, y, pt.name, y, pt.iso(y, 1), pt.iso(y, last))
	}
	return pt, y, n, ""
}

func parseMonth(y int, mm string) (*periodType, int, int, string) {
	m := atoi(mm)
	if m < 1 || m > 12 {
		return nil, 0, 0, fmt.Sprintf("there is no month %s (months run from 01 to 12)", mm)
	}
	return typeMonthly, y, m, ""
}

func parseDay(y int, mm, dd string) (*periodType, int, int, string) {
	m, d := atoi(mm), atoi(dd)
	if m < 1 || m > 12 {
		return nil, 0, 0, fmt.Sprintf("there is no month %s (months run from 01 to 12)", mm)
	}
	if d < 1 || d > daysIn(y, m) {
		return nil, 0, 0, fmt.Sprintf("%s %04d has no day %s", time.Month(m), y, dd)
	}
	return typeDaily, y, date(y, m, d).YearDay(), ""
}

// caseHint explains a string that matched no format, suggesting the right
// spelling when only the letter case is wrong ("2024q1" → "2024Q1").
func caseHint(s, marker, tail string) string {
	if marker == "" && len(tail) == 3 && digits(tail[:2]) && tail[2] == 'b' {
		return fmt.Sprintf("%s; period letters are case-sensitive: did you mean %q?", unknownFormat, s[:6]+"B")
	}
	for m, pt := range typeByMarker {
		if strings.EqualFold(m, marker) && (tail == "") == (pt.style == styleSuffix) {
			return fmt.Sprintf("%s; period letters are case-sensitive: did you mean %q?", unknownFormat, s[:4]+m+tail)
		}
	}
	return unknownFormat
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// digits reports whether s is non-empty and all ASCII digits.
func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// atoi converts a short string of ASCII digits.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
