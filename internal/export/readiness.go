package export

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/aggregate"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/cht"
	"github.com/cht-dhis2-mediator/cht-dhis2-mediator/internal/readiness"
)

// UserSource is what the readiness of a month needs from CHT beyond the
// target docs: the users and their last replications. *cht.Client
// implements it. A CHTSource without it gets a readiness with nobody
// expected (only the month's end and its target docs are judged).
type UserSource interface {
	Users(ctx context.Context, fn func(cht.User) error) error
	// LastReplications fails with an error matching cht.ErrNoLogsAccess when
	// the logs database cannot be read; the readiness then falls back to the
	// target docs.
	LastReplications(ctx context.Context) (map[string]time.Time, error)
}

// NotReadyError is an export held back by the readiness gate: the month has
// not ended, CHT holds no target doc of it for the requested org units, or
// too few CHWs have synced it. Nothing was sent to DHIS2. Report is what
// the export would have reported, with the readiness.
type NotReadyError struct {
	DataSet, Period string
	Readiness       *readiness.Object
	Report          *Report
}

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("export %s %s: month not ready: %s", e.DataSet, e.Period, e.Readiness.Message)
}

// HTTPStatus is 409 Conflict: the request is valid, the month is not ready
// for it yet.
func (e *NotReadyError) HTTPStatus() int { return 409 }

// Retryable is true: the CHWs' next syncs may make the month ready, so
// OpenHIM should retry the export (the answer carries the envelope's error
// member, which flags the transaction for core's auto-retry).
func (e *NotReadyError) Retryable() bool { return true }

// IsNotReady reports whether err is (or wraps) a *NotReadyError.
func IsNotReady(err error) bool {
	var nr *NotReadyError
	return errors.As(err, &nr)
}

// userDocs remembers, per username, the latest updated_date of the user's
// target docs of the month (from the doc ids,
// target~<month>~<contact>~org.couchdb.user:<username>).
type userDocs map[string]int64

func (u userDocs) add(d aggregate.TargetDoc) {
	i := strings.LastIndex(d.ID, "~"+cht.UserSettingsPrefix)
	if i < 0 || d.Malformed != "" {
		return
	}
	name := d.ID[i+1+len(cht.UserSettingsPrefix):]
	if name == "" {
		return
	}
	if cur, ok := u[name]; !ok || d.UpdatedDate > cur {
		u[strings.Clone(name)] = d.UpdatedDate
	}
}

// userRead is the users and their replication logs.
type userRead struct {
	users  []cht.User
	logs   map[string]time.Time
	source string
	err    error
}

// readUsers reads the users and their last replications of src, when it
// has them, one after the other and after the month: the readiness reads
// add no concurrent calls to the month's, so that CHT (and its breaker)
// sees the same load pattern as before.
func (s *Service) readUsers(ctx context.Context, op string) *userRead {
	r := &userRead{source: readiness.SourceLogs}
	us, ok := s.cht.(UserSource)
	if !ok {
		return r
	}
	err := us.Users(ctx, func(u cht.User) error {
		if len(u.Roles) > 0 {
			r.users = append(r.users, u)
		}
		return nil
	})
	if err != nil {
		r.err = fmt.Errorf("%s: read CHT users: %w", op, err)
		return r
	}
	logs, err := us.LastReplications(ctx)
	switch {
	case errors.Is(err, cht.ErrNoLogsAccess):
		s.log.Warn("cannot read CHT's replication logs; month readiness falls back to the target docs' updated_date",
			"err", err)
		r.source = readiness.SourceTargetDocs
	case err != nil:
		r.err = fmt.Errorf("%s: read CHT replication logs: %w", op, err)
	default:
		r.logs = logs
	}
	return r
}

// readinessOf computes the readiness of the month just built in b.
func (s *Service) readinessOf(ctx context.Context, op string, req Request, settings cht.Settings, b *aggregate.Builder,
	res aggregate.Result, docs userDocs, ur *userRead) (*readiness.Object, error) {
	if ur.err != nil {
		return nil, ur.err
	}
	var expected []cht.User
	var places []string
	for _, u := range ur.users {
		if !settings.ComputesTargets(u.Roles) {
			continue
		}
		expected = append(expected, u)
		if u.ContactID != "" {
			places = append(places, u.ContactID)
		}
		places = append(places, u.FacilityIDs...)
	}
	lineage := map[string][]string{}
	if len(places) > 0 {
		owners, err := s.cht.Owners(ctx, places)
		if err != nil {
			return nil, fmt.Errorf("%s: read the contacts of CHT users: %w", op, err)
		}
		for _, o := range owners {
			lineage[o.ID] = o.Lineage
		}
	}
	now := s.now()
	in := readiness.Input{
		Period: readiness.PeriodOf(req.Period.Year, req.Period.Month, settings.MonthStartDate, now.Location()),
		Now:    now, Source: ur.source, MinReady: s.minReady, TargetDocs: res.Stats.Counted,
		OrgUnits: res.OrgUnits, OrgUnitNames: res.OrgUnitNames,
	}
	for _, u := range expected {
		var ous []string
		nearest := ""
		for _, place := range append([]string{u.ContactID}, u.FacilityIDs...) {
			l, ok := lineage[place]
			if !ok || place == "" {
				continue
			}
			ous = append(ous, b.OrgUnitsUnder(place, l)...)
			for _, id := range append([]string{place}, l...) {
				if nearest != "" {
					break
				}
				if own := b.OrgUnitsUnder(id, nil); len(own) > 0 {
					nearest = own[0]
				}
			}
		}
		if len(ous) == 0 {
			continue
		}
		slices.Sort(ous)
		ru := readiness.User{Name: u.Name, Contact: u.ContactID, ContactName: u.FullName,
			OrgUnits: slices.Compact(ous), OrgUnit: nearest, LastReplication: ur.logs[u.Name]}
		if ms, ok := docs[u.Name]; ok {
			ru.HasDoc = true
			ru.DocUpdated = time.UnixMilli(ms).In(now.Location())
		}
		in.Users = append(in.Users, ru)
	}
	return readiness.Compute(in), nil
}

// Readiness builds the month of req and returns its readiness. A month that
// has not begun is the request's mistake (an InputError).
func (s *Service) Readiness(ctx context.Context, req Request) (*readiness.Object, error) {
	req.HumanReadable = false
	p, err := s.Preview(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := NotBegun(req.Period, p.Readiness, s.now()); err != nil {
		return nil, err
	}
	return p.Readiness, nil
}

// NotBegun returns an InputError when month has not begun at now (by CHT's
// reporting interval in r), nil otherwise: nobody can report, pull or
// export a future month, so asking for one is the request's mistake.
func NotBegun(month aggregate.Month, r *readiness.Object, now time.Time) error {
	if r == nil || !now.Before(r.MonthStart) {
		return nil
	}
	return &InputError{Err: fmt.Errorf("period %s has not begun (it begins %s): a future month cannot be reported",
		month.Period(), r.MonthStart.Format(time.DateOnly))}
}
