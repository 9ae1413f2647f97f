package seed

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Month is a reporting period, YYYY-MM.
type Month string

// ParseMonth checks s is YYYY-MM.
func ParseMonth(s string) (Month, error) {
	if _, err := time.Parse("2006-01", s); err != nil || len(s) != 7 {
		return "", fmt.Errorf("seed: month %q: want YYYY-MM", s)
	}
	return Month(s), nil
}

// LastMonth returns the month before now's month, in now's location: what
// CHT's admin app offers by default.
func LastMonth(now time.Time) Month {
	y, m, _ := now.Date()
	return Month(time.Date(y, m-1, 1, 0, 0, 0, 0, time.UTC).Format("2006-01"))
}

// Start returns the first instant of the month in UTC.
func (m Month) Start() time.Time {
	t, _ := time.Parse("2006-01", string(m))
	return t
}

// Add returns the month n months later (earlier when n < 0).
func (m Month) Add(n int) Month {
	return Month(m.Start().AddDate(0, n, 0).Format("2006-01"))
}

// Period returns the DHIS2 monthly period, YYYYMM.
func (m Month) Period() string { return m.Start().Format("200601") }

// UserID returns the CouchDB user id of username: org.couchdb.user:<username>.
func UserID(username string) string { return "org.couchdb.user:" + username }

// TargetDocID returns target~<month>~<owner>~org.couchdb.user:<username>.
func TargetDocID(month Month, owner, username string) string {
	return "target~" + string(month) + "~" + owner + "~" + UserID(username)
}

// Value is the value of one target in a target doc.
type Value struct {
	Pass, Total int
	// Percent is set for percent targets: round(pass*100/total), 0 when
	// total is 0 (CHT's rules engine).
	Percent bool
}

// JSON returns {"pass", "total"[, "percent"]}.
func (v Value) JSON() map[string]any {
	m := map[string]any{"pass": v.Pass, "total": v.Total}
	if v.Percent {
		p := 0
		if v.Total != 0 {
			p = int(math.Round(float64(v.Pass) * 100 / float64(v.Total)))
		}
		m["percent"] = p
	}
	return m
}

// TargetValue is one entry of a target doc's targets array.
type TargetValue struct {
	ID    string
	Value Value
}

// TargetDoc returns a well-formed target doc as CHT's rules engine writes
// it: type target, user, owner, reporting_period, updated_date (ms, a local
// midnight; here updated, truncated to the UTC day) and targets [{id, value}].
func TargetDoc(month Month, owner, username string, updated time.Time, values []TargetValue) map[string]any {
	ts := make([]any, len(values))
	for i, v := range values {
		ts[i] = map[string]any{"id": v.ID, "value": v.Value.JSON()}
	}
	day := updated.UTC().Truncate(24 * time.Hour)
	return map[string]any{
		"_id":              TargetDocID(month, owner, username),
		"type":             "target",
		"user":             UserID(username),
		"owner":            owner,
		"reporting_period": string(month),
		"updated_date":     day.UnixMilli(),
		"targets":          ts,
	}
}

// Lineage returns the minified lineage {_id, parent: {_id, parent: …}} of
// the ids, nearest first; nil for none.
func Lineage(ids ...string) map[string]any {
	var l map[string]any
	for i := len(ids) - 1; i >= 0; i-- {
		n := map[string]any{"_id": ids[i]}
		if l != nil {
			n["parent"] = l
		}
		l = n
	}
	return l
}

// uuid returns a random version 4 UUID from r.
func uuid(r *rand.Rand) string {
	a, b := r.Uint64(), r.Uint64()
	a = a&^(0xf<<12) | 0x4<<12 // version 4
	b = b&^(0x3<<62) | 0x2<<62 // variant 10
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, a>>16&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}
