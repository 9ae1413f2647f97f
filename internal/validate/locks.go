package validate

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// zeroRE is what DHIS2 counts as zero (MathUtils.isZero): "0", "0.0", …
var zeroRE = regexp.MustCompile(`^0(\.0*)?$`)

// IsZero reports whether DHIS2 reads value as a zero.
func IsZero(value string) bool { return zeroRE.MatchString(strings.TrimSpace(value)) }

// LockVerdict is what Locks predicts for one period.
type LockVerdict struct {
	// Problems say why DHIS2 may refuse or will refuse the period's values,
	// each with the fix in plain words. They carry the period only.
	Problems []Problem
	// Refused is true when DHIS2 refuses every value of the period whatever
	// the mediator's user may do (outside the data input periods): such
	// values are not sent. A locked period (expiry days) is not refused: a
	// lock exception, which the mediator cannot see, lets DHIS2 accept it.
	Refused bool
}

// Locks predicts, with DHIS2's own clock now (the serverDate of
// /api/system/info), whether DHIS2 will accept values of the data set for
// period, in the order DHIS2 checks them:
//
//   - data input periods: when the data set has any, the period must be one
//     of them and now between its opening and closing days
//     (DataSet.isDataInputPeriodAndDateAllowed). Otherwise every value is
//     refused (E7643, E8030 in 2.43) and Refused is set.
//   - expiry days: a period locks once now is after its last day plus
//     expiryDays (DataSet.isLocked). editExpired says the user holds
//     F_EDIT_EXPIRED (or ALL), which lifts the lock. A lock exception for an
//     org unit lifts it too, and the mediator cannot know about those, so a
//     lock is a warning: the values are still sent and DHIS2 decides.
//
// A malformed period or an unknown period type yields no verdict: Check
// reports those.
func Locks(md Metadata, period string, now time.Time, editExpired bool) LockVerdict {
	var v LockVerdict
	p, err := ParsePeriod(period)
	if err != nil {
		return v
	}
	y, mo, d := now.Date()
	today := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
	h, mi, sec := now.Clock()
	wall := time.Date(y, mo, d, h, mi, sec, now.Nanosecond(), time.UTC) // now's wall clock, comparable with period dates
	ds := label("data set", md.DataSet.Name, md.DataSet.ID)

	if ips := md.DataSet.DataInputPeriods; len(ips) > 0 {
		i := slices.IndexFunc(ips, func(ip DataInputPeriod) bool {
			q, err := ParsePeriod(ip.Period)
			return err == nil && q.ISO == p.ISO
		})
		var msg string
		switch {
		case i < 0:
			msg = fmt.Sprintf("period %s is not one of the data input periods of %s, so DHIS2 refuses its values: ask a DHIS2 administrator to add it to the data set's data input periods", p.ISO, ds)
		case !ips[i].OpeningDate.IsZero() && today.Before(ips[i].OpeningDate):
			msg = fmt.Sprintf("period %s opens for data entry on %s (data input period of %s), so DHIS2 refuses its values until then: export again after that day",
				p.ISO, ips[i].OpeningDate.Format(time.DateOnly), ds)
		case !ips[i].ClosingDate.IsZero() && today.After(ips[i].ClosingDate):
			msg = fmt.Sprintf("period %s closed for data entry on %s (data input period of %s), so DHIS2 refuses its values: ask a DHIS2 administrator to extend the data input period's closing date",
				p.ISO, ips[i].ClosingDate.Format(time.DateOnly), ds)
		}
		if msg != "" {
			v.Refused = true
			v.Problems = append(v.Problems, Problem{Code: CodePeriodNotOpen, Message: msg, Period: p.ISO})
			return v
		}
	}
	if exp := md.DataSet.ExpiryDays; exp > 0 && !editExpired {
		if lock := p.End.AddDate(0, 0, exp); wall.After(lock) {
			v.Problems = append(v.Problems, Problem{Code: CodePeriodLocked, Period: p.ISO, Message: fmt.Sprintf(
				"period %s locked since %s (expiry %d days) by DHIS2's clock: ask a DHIS2 administrator for a lock exception for these org units; the values are sent anyway and DHIS2 decides",
				p.ISO, lock.Format(time.DateOnly), exp)})
		}
	}
	return v
}

// CanEditExpired reports whether DHIS2 authorities lift expiry locks:
// F_EDIT_EXPIRED, or ALL (a superuser).
func CanEditExpired(authorities []string) bool {
	return slices.Contains(authorities, "F_EDIT_EXPIRED") || slices.Contains(authorities, "ALL")
}
