// Package readiness tells whether a reporting month is complete in CHT:
// whether the CHWs who should report it have synced it since it ended.
//
// CHT's own DHIS2 export cannot tell: data of users who have not synced is
// simply missing (CHT docs, building/integrations/dhis2-aggregate.md, "Known
// limitations"), and the documented workflow has a supervisor check by hand
// that every CHW synced before exporting. This package does that check from
// what CHT records: each user's target doc of the month (written on the
// device, shared-libs/rules-engine/src/pouchdb-provider.js) and the time of
// each user's last successful replication (the medic-logs doc
// replication-count-<user>, api/src/services/replication/replication-limit-log.js).
//
// It is pure: no I/O, the clock is an input. The caller reads CHT and
// classifies with Compute.
package readiness

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Class is what is known about one expected user's data for the month.
type Class string

// The classes of an expected user.
const (
	// Final: a target doc for the month is on the server and either it was
	// updated after the month ended or the user replicated after the month
	// ended, so it holds the whole month.
	Final Class = "final"
	// NoActivity: the user replicated after the month ended and has no
	// target doc for it: a true zero.
	NoActivity Class = "noActivity"
	// Pending: the user has not replicated since the month ended; numbers
	// may be missing or still change.
	Pending Class = "pending"
	// NeverSynced: CHT has no record of any replication by the user.
	NeverSynced Class = "neverSynced"
)

// Where the last replication times came from.
const (
	// SourceLogs: the medic-logs replication-count-<user> docs.
	SourceLogs = "medic-logs"
	// SourceTargetDocs: medic-logs could not be read; only the target docs'
	// updated_date tells whether a user synced after the month ended.
	SourceTargetDocs = "target-docs"
)

// Reasons a month does not pass the gate, in Object.Reason's words.
const (
	ReasonUnfinished = "unfinished"
	ReasonEmpty      = "empty"
	ReasonNotSynced  = "not_synced"
)

// Period is a reporting month as the devices cut it.
type Period struct {
	// Start and End bound the month: [Start, End).
	Start, End time.Time
}

// PeriodOf returns the reporting month year-month as CHT's devices cut it,
// in loc. CHT tags a target doc with the month its reporting interval ends
// in; the interval starts on day startDay (app_settings
// uhc.month_start_date, 1 by default; shared-libs/calendar-interval): with
// startDay 26 the month 2024-06 runs from 26 May to the end of 25 June. A
// startDay outside 1-31 counts as 1, as CHT does.
func PeriodOf(year int, month time.Month, startDay int, loc *time.Location) Period {
	if startDay < 1 || startDay > 31 {
		startDay = 1
	}
	if loc == nil {
		loc = time.UTC
	}
	if startDay == 1 {
		return Period{
			Start: time.Date(year, month, 1, 0, 0, 0, 0, loc),
			End:   time.Date(year, month+1, 1, 0, 0, 0, 0, loc),
		}
	}
	// calendar-interval's getMinimumStartDate / getMinimumEndDate: the
	// earlier of day startDay of the previous month (moment's date() rolls
	// over into the next month, like time.Date) and the first of the month;
	// the end is the earlier of the end of day startDay-1 and the end of the
	// month.
	start := time.Date(year, month-1, startDay, 0, 0, 0, 0, loc)
	if first := time.Date(year, month, 1, 0, 0, 0, 0, loc); first.Before(start) {
		start = first
	}
	last := min(startDay-1, daysIn(year, month, loc))
	return Period{Start: start, End: time.Date(year, month, last+1, 0, 0, 0, 0, loc)}
}

func daysIn(year int, month time.Month, loc *time.Location) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, loc).Day()
}

// User is one CHT user expected to report the month: an offline user whose
// contact or facility lies under a requested org unit.
type User struct {
	Name        string // CHT username
	Contact     string // contact_id
	ContactName string
	// OrgUnits are the requested org units the user's contact or facility
	// lies under. Users with none are not expected and are ignored.
	OrgUnits []string
	// OrgUnit is the nearest of OrgUnits (the user's own place's, else its
	// nearest ancestor's): where the user is listed. The smallest of
	// OrgUnits when empty.
	OrgUnit string
	// DocUpdated is the updated_date of the user's target doc of the month;
	// zero when the user has none on the server.
	DocUpdated time.Time
	HasDoc     bool
	// LastReplication is the user's last successful replication; zero when
	// none is known.
	LastReplication time.Time
}

// Input is what Compute classifies.
type Input struct {
	Period Period
	Now    time.Time
	// Source says where LastReplication came from (SourceLogs or
	// SourceTargetDocs).
	Source string
	// MinReady is the share of expected users (0-1) that must be final or
	// without activity for the month to pass.
	MinReady float64
	// TargetDocs is the number of target docs of the month counted for the
	// requested org units.
	TargetDocs int
	Users      []User
	// OrgUnits are every requested org unit, listed even when nobody is
	// expected there; OrgUnitNames names them when known.
	OrgUnits     []string
	OrgUnitNames map[string]string
}

// Object is the readiness of a month, as the export report, GET /readiness
// and mediator readiness --json show it.
type Object struct {
	Ratio       float64 `json:"ratio"`
	Expected    int     `json:"expected"`
	Final       int     `json:"final"`
	NoActivity  int     `json:"noActivity"`
	Pending     int     `json:"pending"`
	NeverSynced int     `json:"neverSynced"`
	MinReady    float64 `json:"minReady"`
	// Ready is true when the month passes the gate: it has ended, CHT holds
	// target docs for it, and Ratio reaches MinReady.
	Ready bool `json:"ready"`
	// Reason says why the month is not ready: ReasonUnfinished,
	// ReasonEmpty or ReasonNotSynced; empty when ready.
	Reason string `json:"reason,omitempty"`
	// Message is the same in plain words.
	Message    string    `json:"message,omitempty"`
	Source     string    `json:"source"`
	MonthStart time.Time `json:"monthStart"`
	MonthEnd   time.Time `json:"monthEnd"`
	Ended      bool      `json:"ended"`
	TargetDocs int       `json:"targetDocs"`
	// Note explains a limit of the figures (the fallback without medic-logs).
	Note             string        `json:"note,omitempty"`
	OrgUnits         []OrgUnit     `json:"orgUnits"`
	PendingUsers     []PendingUser `json:"pendingUsers"`
	NeverSyncedUsers []PendingUser `json:"neverSyncedUsers"`
}

// OrgUnit counts the expected users under one requested org unit. A user
// counts under every requested org unit its contact lies under.
type OrgUnit struct {
	OrgUnit     string  `json:"orgUnit"`
	Name        string  `json:"name,omitempty"`
	Expected    int     `json:"expected"`
	Final       int     `json:"final"`
	NoActivity  int     `json:"noActivity"`
	Pending     int     `json:"pending"`
	NeverSynced int     `json:"neverSynced"`
	Ratio       float64 `json:"ratio"`
}

// PendingUser is an expected user whose data for the month is not final.
type PendingUser struct {
	Username    string `json:"username"`
	Contact     string `json:"contact,omitempty"`
	ContactName string `json:"contactName,omitempty"`
	OrgUnit     string `json:"orgUnit,omitempty"`
	// LastReplication is the last successful replication, when known.
	LastReplication *time.Time `json:"lastReplication,omitempty"`
	// DocUpdated is the updated_date of the user's target doc of the month,
	// when there is one.
	DocUpdated *time.Time `json:"docUpdated,omitempty"`
}

// Classify says what is known about u's data for the month ending at end.
// A target doc updated on or after end holds the whole month (updated_date
// is the start of the device's day of the last write, so a write on the
// month's last day dates before end). With the medic-logs source, a
// replication on or after end proves that the server has what the device
// had; without it (SourceTargetDocs) only the doc's date can, and a user
// without a doc cannot be told apart from one who never synced: such users
// are Pending.
func Classify(u User, end time.Time, source string) Class {
	docFinal := u.HasDoc && !u.DocUpdated.Before(end)
	if source != SourceLogs {
		if docFinal {
			return Final
		}
		return Pending
	}
	switch {
	case !u.LastReplication.IsZero() && !u.LastReplication.Before(end):
		if u.HasDoc {
			return Final
		}
		return NoActivity
	case docFinal:
		// The log says otherwise, but the doc reached the server after the
		// month ended (a log doc rewritten or purged): the doc wins.
		return Final
	case u.LastReplication.IsZero() && !u.HasDoc:
		return NeverSynced
	default:
		return Pending
	}
}

// Compute classifies every user of in and counts them overall and per org
// unit.
func Compute(in Input) *Object {
	t := NewTally(in)
	for _, u := range in.Users {
		t.Add(u)
	}
	return t.Object()
}

// Tally classifies users one at a time, so that a national month's users
// need not be held at once: NewTally with the Input (its Users are
// ignored), Add every user, then Object. The result does not depend on the
// order of the users.
type Tally struct {
	in  Input
	o   *Object
	per map[string]*OrgUnit
}

// NewTally starts a tally of the month of in.
func NewTally(in Input) *Tally {
	t := &Tally{in: in, per: map[string]*OrgUnit{}}
	t.o = &Object{
		MinReady: in.MinReady, Source: in.Source, TargetDocs: in.TargetDocs,
		MonthStart: in.Period.Start, MonthEnd: in.Period.End,
		Ended:            !in.Now.Before(in.Period.End),
		OrgUnits:         []OrgUnit{},
		PendingUsers:     []PendingUser{},
		NeverSyncedUsers: []PendingUser{},
	}
	if in.Source != SourceLogs {
		t.o.Note = "the medic-logs database could not be read: a user counts as synced only when the target doc of the month was updated after the month ended, and a user without one counts as pending"
	}
	for _, ou := range in.OrgUnits {
		t.per[ou] = &OrgUnit{OrgUnit: ou, Name: in.OrgUnitNames[ou]}
	}
	return t
}

// Add classifies u and counts it. A user under no org unit is not
// expected and is ignored.
func (t *Tally) Add(u User) {
	if len(u.OrgUnits) == 0 {
		return
	}
	o := t.o
	c := Classify(u, t.in.Period.End, t.in.Source)
	o.Expected++
	count(&o.Final, &o.NoActivity, &o.Pending, &o.NeverSynced, c)
	for _, ou := range u.OrgUnits {
		p, ok := t.per[ou]
		if !ok {
			p = &OrgUnit{OrgUnit: ou, Name: t.in.OrgUnitNames[ou]}
			t.per[ou] = p
		}
		p.Expected++
		count(&p.Final, &p.NoActivity, &p.Pending, &p.NeverSynced, c)
	}
	if c != Pending && c != NeverSynced {
		return
	}
	pu := PendingUser{Username: u.Name, Contact: u.Contact, ContactName: u.ContactName, OrgUnit: u.OrgUnit}
	if pu.OrgUnit == "" {
		pu.OrgUnit = slices.Min(u.OrgUnits)
	}
	if !u.LastReplication.IsZero() {
		t := u.LastReplication.UTC()
		pu.LastReplication = &t
	}
	if u.HasDoc && !u.DocUpdated.IsZero() {
		t := u.DocUpdated.UTC()
		pu.DocUpdated = &t
	}
	if c == Pending {
		o.PendingUsers = append(o.PendingUsers, pu)
	} else {
		o.NeverSyncedUsers = append(o.NeverSyncedUsers, pu)
	}
}

// Object returns the readiness of the users added so far: the users
// listed by username, the org units by id.
func (t *Tally) Object() *Object {
	o := *t.o
	o.PendingUsers = slices.Clone(o.PendingUsers)
	o.NeverSyncedUsers = slices.Clone(o.NeverSyncedUsers)
	byName := func(a, b PendingUser) int { return strings.Compare(a.Username, b.Username) }
	slices.SortStableFunc(o.PendingUsers, byName)
	slices.SortStableFunc(o.NeverSyncedUsers, byName)
	o.Ratio = ratio(o.Final+o.NoActivity, o.Expected)
	o.OrgUnits = make([]OrgUnit, 0, len(t.per))
	for _, p := range t.per {
		q := *p
		q.Ratio = ratio(q.Final+q.NoActivity, q.Expected)
		o.OrgUnits = append(o.OrgUnits, q)
	}
	slices.SortFunc(o.OrgUnits, func(a, b OrgUnit) int { return strings.Compare(a.OrgUnit, b.OrgUnit) })
	o.judge(t.in.Now)
	return &o
}

func count(final, noActivity, pending, never *int, c Class) {
	switch c {
	case Final:
		*final++
	case NoActivity:
		*noActivity++
	case Pending:
		*pending++
	case NeverSynced:
		*never++
	}
}

// ratio is n/of rounded to 4 decimals; 1 when nobody is expected.
func ratio(n, of int) float64 {
	if of == 0 {
		return 1
	}
	return math.Round(float64(n)/float64(of)*1e4) / 1e4
}

// judge sets Ready, Reason and Message.
func (o *Object) judge(now time.Time) {
	switch {
	case !o.Ended:
		o.Reason = ReasonUnfinished
		o.Message = fmt.Sprintf("the month has not ended: it ends %s", o.MonthEnd.Format("2006-01-02 15:04 MST"))
		if now.Before(o.MonthStart) {
			o.Message = fmt.Sprintf("the month has not begun: it begins %s", o.MonthStart.Format("2006-01-02 15:04 MST"))
		}
	case o.TargetDocs == 0:
		o.Reason = ReasonEmpty
		o.Message = "CHT holds no target doc of this month for the requested org units"
	case o.Ratio+1e-9 < o.MinReady:
		o.Reason = ReasonNotSynced
		notSynced := o.Pending + o.NeverSynced
		names := make([]string, 0, notSynced)
		for _, u := range o.PendingUsers {
			names = append(names, u.Username)
		}
		for _, u := range o.NeverSyncedUsers {
			names = append(names, u.Username+" (never synced)")
		}
		const shown = 10
		list := strings.Join(names[:min(len(names), shown)], ", ")
		if len(names) > shown {
			list += fmt.Sprintf(", and %d more", len(names)-shown)
		}
		o.Message = fmt.Sprintf("%d of %d CHWs have not synced since the month ended (%s; ready %s, at least %s needed): %s",
			notSynced, o.Expected, o.MonthEnd.Format("2006-01-02"), percent(o.Ratio), percent(o.MinReady), list)
	default:
		o.Ready = true
	}
}

func percent(r float64) string {
	return fmt.Sprintf("%.4g%%", r*100)
}
