package aggregate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors. Returned errors wrap them and name the offending value;
// compare with errors.Is.
var (
	// ErrInvalidPeriod: a period that is not a DHIS2 monthly period YYYYMM.
	ErrInvalidPeriod = errors.New("invalid period")
	// ErrUnknownDataSet: a data set missing from CHT's dhis_data_sets (CHT
	// answers 400 `dataSet "<id>" is not defined`).
	ErrUnknownDataSet = errors.New("unknown data set")
	// ErrNoDataElements: a data set no target definition maps to (CHT
	// answers 400 `dataSet "<id>" has no dataElements`).
	ErrNoDataElements = errors.New("data set has no data elements")
)

// inputError is an error with an exact message that still matches a
// sentinel through errors.Is, so that messages read as one sentence instead
// of ending in ": invalid period".
type inputError struct {
	msg string
	err error
}

func (e *inputError) Error() string { return e.msg }
func (e *inputError) Unwrap() error { return e.err }

func errorf(sentinel error, format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...), err: sentinel}
}

// Month is a calendar month, DHIS2's Monthly period. The zero value is not
// a valid month; build one with ParseMonth or MonthOf.
type Month struct {
	Year  int
	Month time.Month
}

// ParseMonth parses a DHIS2 monthly period: exactly six ASCII digits YYYYMM,
// year 1900-9999 and month 01-12. Errors wrap ErrInvalidPeriod.
func ParseMonth(period string) (Month, error) {
	if len(period) != 6 || strings.ContainsFunc(period, func(r rune) bool { return r < '0' || r > '9' }) {
		return Month{}, errorf(ErrInvalidPeriod, "period %q is not a month: use YYYYMM, e.g. 202406", period)
	}
	// Six ASCII digits: neither conversion can fail.
	year, _ := strconv.Atoi(period[:4])
	month, _ := strconv.Atoi(period[4:])
	if year < 1900 {
		return Month{}, errorf(ErrInvalidPeriod, "period %q: year %s is not 1900-9999", period, period[:4])
	}
	if month < 1 || month > 12 {
		return Month{}, errorf(ErrInvalidPeriod, "period %q: month %s is not 01-12", period, period[4:])
	}
	return Month{Year: year, Month: time.Month(month)}, nil
}

// MonthOf returns the month t falls in, in t's own location. Choose the
// location first (CHT uses the API server's time zone, dhis.js).
func MonthOf(t time.Time) Month {
	return Month{Year: t.Year(), Month: t.Month()}
}

// Period returns the DHIS2 period, "202406".
func (m Month) Period() string {
	return fmt.Sprintf("%04d%02d", m.Year, int(m.Month))
}

// DocMonth returns the month as CHT writes it in target doc ids
// (target~2024-06~…) and reporting_period: "2024-06".
func (m Month) DocMonth() string {
	return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month))
}

// Previous returns the month before m (December of the year before for
// January).
func (m Month) Previous() Month {
	if m.Month <= time.January {
		return Month{Year: m.Year - 1, Month: time.December}
	}
	return Month{Year: m.Year, Month: m.Month - 1}
}

// String returns the DHIS2 period, as Period does.
func (m Month) String() string { return m.Period() }
